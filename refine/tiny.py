"""The `tiny` profile: a miniature FLUX pipeline and refiner built in code.

Everything here is created from seeded random weights, with no network and no files, so tests, CI and
offline smoke runs exercise the real diffusers `FluxPipeline` and the real `RefinerUNet` code paths in
seconds on a CPU. The images it makes are noise-like: they prove the plumbing, not the quality.
"""

import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast, T5Config, T5EncoderModel

from refine.model import RefinerConfig, RefinerUNet

TINY_SEED = 0
TEXT_WIDTH = 32  # hidden size of both tiny text encoders
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0..3, as the configs below expect


def build_tokenizer(model_max_length: int) -> PreTrainedTokenizerFast:
    """A byte-level tokenizer made in code: any text (unicode, 10,000 characters) tokenizes offline.

    `model_max_length` must be set, or FluxPipeline's truncation overflows (77 for CLIP).
    """
    byte_symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS + byte_symbols)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    # End every sequence with </s>: CLIP pools its output at the end-of-sequence token.
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=model_max_length,
    )


def build_tiny_flux(max_sequence_length: int = 256) -> FluxPipeline:
    """A FluxPipeline with the real component classes at miniature sizes (about 0.3M parameters).

    The VAE keeps FLUX's 8x downsampling so that image sizes behave exactly as with the real model
    (multiples of 16, the same latent grid), while the transformer stays small enough for a CPU.
    """
    torch.manual_seed(TINY_SEED)
    vocab_size = len(SPECIAL_TOKENS) + len(pre_tokenizers.ByteLevel.alphabet())
    transformer = build_tiny_transformer(guidance_embeds=False)  # like schnell
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=TEXT_WIDTH,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            projection_dim=TEXT_WIDTH,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        )
    )
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=vocab_size,
            d_model=TEXT_WIDTH,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            pad_token_id=0,
            eos_token_id=2,
        )
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8),  # 4 levels: 8x downsampling, as in FLUX
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    pipeline = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=clip,
        tokenizer=build_tokenizer(77),
        text_encoder_2=t5,
        tokenizer_2=build_tokenizer(max_sequence_length),
        transformer=transformer,
    )
    pipeline.set_progress_bar_config(disable=True)
    for component in (transformer, clip, t5, vae):
        component.eval()  # built in code, they start in training mode: dropout would break determinism
    return pipeline


def build_tiny_transformer(guidance_embeds: bool, seed: int = TINY_SEED) -> FluxTransformer2DModel:
    """The tiny FLUX transformer; `guidance_embeds=True` makes a dev-like one (guidance distilled)."""
    torch.manual_seed(seed)
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,  # 4 latent channels packed in 2x2 patches
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_WIDTH,
        pooled_projection_dim=TEXT_WIDTH,
        guidance_embeds=guidance_embeds,
        axes_dims_rope=(4, 4, 8),
    ).eval()


def build_tiny_refiner() -> RefinerUNet:
    """A small RefinerUNet with seeded random weights everywhere, the output layer included.

    A fresh RefinerUNet starts as the identity (its output layer is zero); randomising that layer too
    makes the tiny refiner visibly change images, so tests can tell refined from unrefined output.
    """
    torch.manual_seed(TINY_SEED)
    refiner = RefinerUNet(RefinerConfig(channels=(8, 16), blocks_per_level=1, downscale_factor=2))
    torch.nn.init.normal_(refiner.output.weight, std=0.05)
    return refiner.eval()
