"""Tools that build the synthetic paired FLUX.1-schnell / FLUX.1-dev portrait dataset and publish it."""
