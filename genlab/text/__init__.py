"""Text: the tokenizer that turns a prompt into ids (``tokenizer``). The text *encoder* is a model and
lives in ``genlab.models``; this room holds what comes before it."""
