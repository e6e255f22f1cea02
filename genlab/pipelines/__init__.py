"""Pipelines: a model with everything around it that turns input into output, stage by stage
(``latents``: images to VAE latents and back; the text-to-image pipeline next)."""
