"""Train a style: `python train.py experiment=<style> [key=value ...]`, the same as `fst-train` (fst/cli/train.py)."""

from fst.cli.train import main

if __name__ == "__main__":
    main()
