"""LightningDataModules: the training stream, a validation split and fixed sample images.

- `PhotoDataModule`: photos (the style nets).
- `ContentStyleDataModule`: (photo, style image) pairs (arbitrary style transfer, AdaIN).
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from fst.data.dataset import FixedImages, PhotoStream, ShortSide, StreamSampler, is_validation_file, list_images
from fst.data.styles import FlippedStream, PairedImages, PairedStream, split_styles

log = logging.getLogger(__name__)


class PhotoDataModule(L.LightningDataModule):
    """Photos from a folder, resized and cropped to `image_size` squares.

    Args:
        train_dir: folder of photos, searched recursively (e.g. COCO `train2014/`).
        image_size: side of the square training crops (Johnson: 256).
        resize_to: short side the photos are scaled to before cropping; None = image_size
            (whole-image crops, Johnson). Larger keeps the scale of bigger images in cheap crops;
            a [low, high] range draws it per training crop (validation crops use `low`).
        batch_size: images per device per step; the global batch is batch_size x world size.
        val_dir: folder of validation photos; None holds out `val_fraction` of `train_dir`.
        val_images: how many validation images to use (they are also the logged samples).
        seed: fixes the data order and the crops.
    """

    def __init__(
        self,
        train_dir: str,
        image_size: int = 256,
        resize_to: ShortSide = None,
        batch_size: int = 4,
        num_workers: int = 4,
        val_dir: str | None = None,
        val_fraction: float = 0.01,
        val_images: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train_dir, self.val_dir = train_dir, val_dir
        self.image_size, self.resize_to = image_size, resize_to
        self.batch_size, self.num_workers = batch_size, num_workers
        self.val_fraction, self.val_images, self.seed = val_fraction, val_images, seed
        self.train_set: PhotoStream | PairedStream | None = None
        self.val_set: FixedImages | PairedImages | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        files = list_images(self.train_dir)
        if self.val_dir is not None:
            train_files, val_files = files, list_images(self.val_dir)
        else:
            val_files = [f for f in files if is_validation_file(f, self.val_fraction)]
            train_files = [f for f in files if not is_validation_file(f, self.val_fraction)]
        log.info(
            "training on %d images from %s, validating on %d",
            len(train_files),
            Path(self.train_dir),
            min(len(val_files), self.val_images),
        )
        self.train_set = PhotoStream(train_files, self.image_size, seed=self.seed, short_side=self.resize_to)
        self.val_set = FixedImages(val_files[: self.val_images], self.image_size, short_side=self.resize_to)

    def _loader(self, dataset, sampler=None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=False,
            pin_memory=torch.cuda.is_available(),
            drop_last=sampler is not None,
        )

    def train_dataloader(self) -> DataLoader:
        # The stream resumes where the restored step left off: exact resume needs no data state.
        trainer = self.trainer
        per_step = self.batch_size * trainer.world_size * trainer.accumulate_grad_batches
        max_steps = trainer.max_steps if trainer.max_steps > 0 else 10**9
        sampler = StreamSampler(
            trainer.global_step * per_step,
            max_steps * per_step,
            rank=trainer.global_rank,
            world_size=trainer.world_size,
        )
        return self._loader(self.train_set, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)


class ContentStyleDataModule(PhotoDataModule):
    """(content, style) batches for arbitrary style transfer: photos as `PhotoDataModule`, plus styles.

    Args:
        style_dirs: folders of style images (paintings, ...), searched recursively.
        val_styles: file names of the validation styles (held out of training).
        exclude_styles: file names used by neither (pictures kept for evaluation).
        style_seed_offset: the style stream's seed is seed + this, so its order differs from the photos'.
        Others: as `PhotoDataModule`; style crops have the photos' `image_size` and `resize_to`.
    """

    def __init__(
        self,
        train_dir: str,
        style_dirs: list[str],
        val_styles: list[str],
        exclude_styles: list[str] | None = None,
        style_seed_offset: int = 1,
        image_size: int = 256,
        resize_to: ShortSide = None,
        batch_size: int = 4,
        num_workers: int = 4,
        val_dir: str | None = None,
        val_fraction: float = 0.01,
        val_images: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__(
            train_dir, image_size, resize_to, batch_size, num_workers, val_dir, val_fraction, val_images, seed
        )
        self.style_dirs, self.val_styles = list(style_dirs), list(val_styles)
        self.exclude_styles = list(exclude_styles or [])
        self.style_seed_offset = style_seed_offset

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        super().setup(stage)
        train_styles, val_styles = split_styles(self.style_dirs, self.val_styles, self.exclude_styles)
        log.info("style images: %d for training, %d for validation", len(train_styles), len(val_styles))
        seed = self.seed + self.style_seed_offset
        styles = PhotoStream(train_styles, self.image_size, seed=seed, short_side=self.resize_to)
        self.train_set = PairedStream(self.train_set, FlippedStream(styles, seed))
        self.val_set = PairedImages(self.val_set, FixedImages(val_styles, self.image_size, short_side=self.resize_to))
