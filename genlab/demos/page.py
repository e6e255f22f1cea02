"""One page for the lecturer: every file ``genlab demo`` wrote, in the lecture's order, with a caption each.

    write_page("runs/demo")   # -> runs/demo/index.html, links relative (the folder can be copied as it is)

The lecture (Image Generation with Foundation Models) runs: GANs (Generator, Diskriminator, Mode Collapse,
Divergenz) → das U-Net (Encoder, Decoder, Skip Connection) → Diffusionsmodell – Ablauf (Token, CLIP-Text-Encoder,
latentes Bild, U-Net, Sampler, VAE-Decoder) → Diffusion vs Flow. :data:`SECTIONS` follows it; each part's files
carry the lecture's German term beside the English one. The page is built from what is on disk, so
``genlab demo --only PART`` refreshes that part and keeps the others.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Caption:
    term: str  # the lecture's German term
    english: str
    text: str


@dataclasses.dataclass(frozen=True)
class Section:
    title: str  # German heading of the lecture, English beside it
    parts: tuple[str, ...]  # demo parts (folders under the demo's out dir)
    intro: str
    shipped: str = ""  # where shipped weights stand in for training ("" = everything trained here)


SECTIONS = (
    Section("GANs (Generative Adversarial Networks) — generator against discriminator", ("gan2d", "gan_fmnist"),
            "Two networks compete: the generator makes samples, the discriminator tells them from real ones. Hard to "
            "train: mode collapse (always similar variants) and divergence (one network too strong). Trained here."),
    Section("Das U-Net — the U-Net", ("unet_vae",),
            "The encoder shrinks the image and keeps its main structures, the decoder rebuilds (and denoises) it; "
            "skip connections carry the fine details past the bottleneck. The VAE gives the latent image the "
            "diffusion model works in. Trained here."),
    Section("Diffusionsmodell – Ablauf — the latent-diffusion pipeline, stage by stage", ("text_to_image",),
            "Prompt → tokens → CLIP text encoder (a semantic vector per token) → a random noisy latent → the U-Net "
            "predicts the noise, the sampler steps to a less noisy latent, again and again (20–50 iterations) → "
            "the VAE decoder turns the latent into pixels.",
            shipped="Shipped weights stand in for training here: the CLIP text encoder (genlab ship clip-fmnist), "
                    "the U-Net (genlab ship latent-diffusion) and the VAE in data/; nothing is trained in this part."),
    Section("Diffusion vs Flow — diffusion against flow matching, measured", ("diffusion_vs_flow",),
            "The same network, data, budget and seed; only the objective and the sampler differ. Diffusion predicts "
            "the noise and removes it step by step; flow matching learns a velocity from noise to data. How many "
            "network evaluations (NFE) each needs, and how much of the error is the model's and how much the "
            "sampler's (the perfect model: the exact field of the data).",
            shipped="The 2D models are trained here (one seed, ring8); the image grid per NFE comes from the shipped "
                    "latent-diffusion model and the shipped flow-latent models (flow matching and its 2-rectified "
                    "flow)."),
)

CAPTIONS: dict[str, Caption] = {
    # GANs, 2D
    "ring8_vanilla_samples.png": Caption("Mode Collapse", "mode collapse",
                                         "A vanilla GAN on 8 Gaussians on a ring: its samples over training settle on "
                                         "a few modes."),
    "ring8_vanilla.gif": Caption("Mode Collapse", "mode collapse", "The same run as an animation."),
    "ring8_fixed_samples.png": Caption("Mode Collapse — Abhilfe", "a fix", "PacGAN2 + R1 penalty: every mode covered."),
    "ring8_fixed.gif": Caption("Mode Collapse — Abhilfe", "a fix", "The fixed run as an animation."),
    "ring8_coverage.png": Caption("Mode Collapse", "mode coverage",
                                  "Modes covered and high-quality fraction over training, vanilla against fixed."),
    "ring8_vanilla_d.png": Caption("Diskriminator", "discriminator",
                                   "The discriminator's outputs on real and fake samples and the gradient norms."),
    "ring8_divergence_d.png": Caption("Divergenz", "divergence",
                                      "A too-strong discriminator with the saturating loss: D wins, G's gradient "
                                      "vanishes."),
    "ring8_divergence_arms.png": Caption("Divergenz — Abhilfe", "divergence and its fixes",
                                         "The same too-strong D, three ways to play: saturating loss, non-saturating "
                                         "loss, and the fix (NS + R1 + PacGAN2)."),
    "diracgan_portrait.png": Caption("Divergenz", "DiracGAN",
                                     "The smallest GAN (Mescheder et al. 2018): plain gradient steps circle or spiral "
                                     "away from the equilibrium; a gradient penalty makes them converge."),
    # GANs, images
    "gan_fmnist_class_histograms.png": Caption("Mode Collapse", "mode collapse on images",
                                               "Which Fashion-MNIST classes the generator draws over training, judged "
                                               "by the reference classifier."),
    "gan_fmnist_vanilla_samples.png": Caption("Generator", "generator", "Vanilla DCGAN: samples over training."),
    "gan_fmnist_fixed_samples.png": Caption("Generator", "generator", "The fixed DCGAN: samples over training."),
    "gan_fmnist_vanilla_d_outputs.png": Caption("Diskriminator", "discriminator",
                                                "Vanilla DCGAN: D's outputs and gradient norms."),
    "gan_fmnist_fixed_d_outputs.png": Caption("Diskriminator", "discriminator",
                                              "Fixed DCGAN: D's outputs and gradient norms."),
    # U-Net and VAE
    "unet_denoising_examples.png": Caption("Skip Connection", "skip connections",
                                           "A U-Net denoiser with and without skips at several noise levels: without "
                                           "skips the fine details are lost."),
    "unet_psnr_vs_noise.png": Caption("Skip Connection", "skip connections", "PSNR against the noise level, with and "
                                                                           "without skips."),
    "vae_reconstructions.png": Caption("Encoder / Decoder", "encoder / decoder",
                                       "The VAE: images, encoded to a 7×7×4 latent and decoded again."),
    "vae_interpolations.png": Caption("latentes Bild", "latent image", "Straight lines between two latents, decoded."),
    "vae_prior_samples.png": Caption("latentes Bild", "latent image", "Decoded draws from the prior N(0, I)."),
    "vae_latent_channels.png": Caption("latentes Bild", "latent image", "The four channels of the latent of an image."),
    # the pipeline
    "clip_tokens_0.png": Caption("Manuelle Eingabe → Token", "prompt → tokens",
                                 "A prompt split into tokens (pieces and ids)."),
    "clip_tokens_1.png": Caption("Manuelle Eingabe → Token", "prompt → tokens",
                                 "A word the tokenizer never saw splits into smaller known pieces."),
    "clip_similarity.png": Caption("CLIP-Text-Encoder", "CLIP text encoder",
                                   "Similarity of image and caption vectors: the right caption scores highest."),
    "clip_prompt_pca.png": Caption("Semantischer Vektor", "semantic vector",
                                   "Prompt vectors projected to 2D: classes cluster, attributes move them alike."),
    "ldm_pipeline.png": Caption("Diffusionsmodell – Ablauf", "the pipeline",
                                "All five stages for one prompt: tokens, text states, noisy latent, U-Net + "
                                "sampler, VAE decoder."),
    "ldm_film_strip.png": Caption("Entrauschen", "denoising",
                                  "The latent after every few sampler steps, decoded: the image appears step by step."),
    "ldm_pipeline_2.png": Caption("Diffusionsmodell – Ablauf", "the pipeline", "The five stages for a second prompt."),
    "ldm_film_strip_2.png": Caption("Entrauschen", "denoising", "The denoising of the second prompt."),
    "ldm_pipeline_3.png": Caption("Diffusionsmodell – Ablauf", "the pipeline", "The five stages for a third prompt."),
    "ldm_film_strip_3.png": Caption("Entrauschen", "denoising", "The denoising of the third prompt."),
    "ldm_denoising.gif": Caption("Entrauschen", "denoising", "The denoising as an animation."),
    "ldm_guidance_grid.png": Caption("Sampler + Guidance", "classifier-free guidance",
                                     "The same noise at guidance w = 1 … 7.5: higher w follows the prompt more and "
                                     "varies less."),
    # diffusion vs flow
    "dvf_quality_vs_nfe.png": Caption("Diffusion vs Flow", "quality against NFE",
                                      "Every sampler of both models against the number of network evaluations; "
                                      "dashed: the same sampler on the exact field (no model error)."),
    "dvf_trajectories.png": Caption("Schritt für Schritt vs. direkt", "step by step vs. directly",
                                    "From the same noise: the diffusion model's paths (ancestral DDPM jagged, its "
                                    "ODE curved) against the flow's (nearly straight; after reflow straight)."),
    "dvf_transport.gif": Caption("Schritt für Schritt vs. direkt", "step by step vs. directly",
                                 "The sample cloud moving from noise to data, same budget for every arm."),
    "dvf_oracle_error.png": Caption("Modellfehler", "model error",
                                    "Each learned field against the exact one, per time t: in its own "
                                    "parameterisation and as the implied denoiser (one currency for both)."),
    "dvf_latent_per_nfe.png": Caption("Iterationen", "iterations",
                                      "Text-to-image at 1, 2, 4, … network evaluations, same prompts and noise: the "
                                      "latent-diffusion model's samplers against flow matching and the 2-rectified "
                                      "flow. How many iterations the image needs."),
    "dvf_closing_note.txt": Caption("Fazit", "closing note",
                                    "For which NFE each claim of the lecture holds, from these numbers."),
}

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-top:1em}figure{margin:1.5em 0}
img{max-width:100%;border:1px solid #eee}figcaption{font-size:.95em;margin-top:.3em}
.term{font-weight:bold}.en{color:#555}.shipped{background:#fff6d5;padding:.5em .8em;border-left:4px solid #e0b000}
.missing{color:#a00}pre{background:#f6f6f6;padding:.8em;white-space:pre-wrap}"""


def _figure(part: str, path: Path) -> str:
    cap = CAPTIONS.get(path.name, Caption(path.stem, "", ""))
    src = html.escape(f"{part}/{path.name}")
    head = (f'<span class="term">{html.escape(cap.term)}</span>'
            + (f' <span class="en">({html.escape(cap.english)})</span>' if cap.english else ""))
    caption = f"<figcaption>{head}: {html.escape(cap.text)} <code>{src}</code></figcaption>"
    if path.suffix == ".txt":
        return f"<figure><pre>{html.escape(path.read_text())}</pre>{caption}</figure>"
    return f'<figure><img src="{src}" alt="{html.escape(path.name)}" loading="lazy">{caption}</figure>'


def _ordered(files: list[Path]) -> list[Path]:
    order = {name: i for i, name in enumerate(CAPTIONS)}
    return sorted(files, key=lambda p: (order.get(p.name, len(order)), p.name))


def write_page(out_dir: str | Path, *, preset: str = "") -> Path:
    """``out_dir/index.html``: the files under ``out_dir/<part>/`` in lecture order, a caption each."""
    out_dir = Path(out_dir)
    body = [f"<h1>Image Generation with Foundation Models — genlab demo{f' ({html.escape(preset)})' if preset else ''}"
            "</h1><p>The lecture's figures in its order. Each caption gives the lecture's German term and the "
            "English one. Regenerate with <code>genlab demo</code>; one part with <code>genlab demo --only PART"
            "</code>.</p>"]
    for section in SECTIONS:
        body.append(f"<h2>{html.escape(section.title)}</h2><p>{html.escape(section.intro)}</p>")
        if section.shipped:
            body.append(f'<p class="shipped">{html.escape(section.shipped)}</p>')
        for part in section.parts:
            folder = out_dir / part
            files = [p for p in folder.iterdir() if p.suffix in (".png", ".gif", ".txt")] if folder.is_dir() else []
            if not files:
                body.append(f'<p class="missing">Part <code>{part}</code> has not run yet: '
                            f"<code>genlab demo --only {part}</code>.</p>")
            body += [_figure(part, p) for p in _ordered(files)]
    page = out_dir / "index.html"
    page.write_text("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>genlab demo</title>"
                    f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
    return page
