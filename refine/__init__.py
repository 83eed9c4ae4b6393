"""The portrait refiner: the refiner head, the generate-and-refine pipeline and its profiles."""

from refine.model import RefinerConfig, RefinerUNet
from refine.pipeline import GenerationResult, MissingWeightsError, PortraitPipeline, load_pipeline

__all__ = ["GenerationResult", "MissingWeightsError", "PortraitPipeline", "RefinerConfig", "RefinerUNet", "load_pipeline"]
