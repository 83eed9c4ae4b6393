"""`python -m train`: fit the refiner head (see train/training.py)."""

from train.training import main

main()
