"""FLUX.1 at its published sizes with random weights: the real cost of a forward pass, no download.

Weight values do not change how long a forward pass takes, so the benchmark and the dataset
throughput measurement build the published FLUX.1 configurations (the 12B transformer, T5-XXL's
encoder, CLIP-L's text model and the 16-channel VAE) with random weights on the target device. The
tokenizers are the byte-level ones of the tiny profile with the real maximum lengths: prompts are
padded to those lengths, so the encoders see sequences of exactly the real shapes.
"""

import contextlib

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from refine.tiny import build_tokenizer

# black-forest-labs/FLUX.1-{schnell,dev}: transformer/config.json (dev adds guidance_embeds=True)
TRANSFORMER = dict(
    patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
    num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, axes_dims_rope=(16, 56, 56),
)
# text_encoder_2/config.json: the encoder of google/t5-v1_1-xxl
T5_XXL = dict(
    vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
    relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
    layer_norm_epsilon=1e-6, tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
)
# text_encoder/config.json: openai/clip-vit-large-patch14's text model
CLIP_L = dict(
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
    max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768, pad_token_id=1, bos_token_id=0, eos_token_id=2,
)
# vae/config.json
VAE = dict(
    in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=16, norm_num_groups=32,
    sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False,
)


@contextlib.contextmanager
def building_on(device: str | torch.device, dtype: torch.dtype):
    """Create parameters directly on `device` in `dtype` (or without memory on "meta")."""
    if torch.device(device).type == "meta":
        with init_empty_weights():
            yield
        return
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)


def build_full_size_components(device="meta", dtype=torch.bfloat16) -> dict:
    """Text encoders, VAE and both transformers (schnell-like and dev-like) at FLUX.1's sizes."""
    with building_on(device, dtype):
        components = {
            "schnell_transformer": FluxTransformer2DModel(**TRANSFORMER, guidance_embeds=False),
            "dev_transformer": FluxTransformer2DModel(**TRANSFORMER, guidance_embeds=True),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**CLIP_L)),
            "text_encoder_2": T5EncoderModel(T5Config(**T5_XXL)),
            "vae": AutoencoderKL(**VAE),
        }
    for module in components.values():
        module.eval()
    return components


def build_full_size_flux_pair(device, dtype=torch.bfloat16) -> tuple[FluxPipeline, FluxPipeline]:
    """schnell-like and dev-like FluxPipelines sharing text encoders and VAE, random weights, on device."""
    components = build_full_size_components(device, dtype)
    shared = dict(
        vae=components["vae"],
        text_encoder=components["text_encoder"],
        tokenizer=build_tokenizer(77),
        text_encoder_2=components["text_encoder_2"],
    )
    schnell = FluxPipeline(scheduler=FlowMatchEulerDiscreteScheduler(), transformer=components["schnell_transformer"], tokenizer_2=build_tokenizer(256), **shared)
    dev_scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15)
    dev = FluxPipeline(scheduler=dev_scheduler, transformer=components["dev_transformer"], tokenizer_2=build_tokenizer(512), **shared)
    for pipeline in (schnell, dev):
        pipeline.set_progress_bar_config(disable=True)
    return schnell, dev
