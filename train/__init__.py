"""Training, evaluation and publishing of the refiner head on the paired schnell/dev dataset."""
