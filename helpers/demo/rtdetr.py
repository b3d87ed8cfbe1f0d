"""The demo's Hugging Face RT-DETR: a small config and a plain training loop (the model computes
its own Hungarian-matching loss), saved with its image processor as `save_pretrained` writes them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpers.demo.spec import DemoModelsSpec


def small_rtdetr_config(names: list[str]):
    """A small RT-DETR: ResNet-style backbone with basic blocks, 64-wide encoder and decoder."""
    from transformers import RTDetrConfig, RTDetrResNetConfig

    # layer_type="basic" needs embedding_size == hidden_sizes[0]
    backbone = RTDetrResNetConfig(
        embedding_size=32,
        hidden_sizes=[32, 64, 128, 256],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    return RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=[64, 128, 256],
        encoder_hidden_dim=64,
        encoder_ffn_dim=256,
        encoder_attention_heads=4,
        d_model=64,
        decoder_in_channels=[64, 64, 64],
        decoder_ffn_dim=256,
        decoder_layers=2,
        decoder_attention_heads=4,
        num_queries=60,
        num_denoising=20,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )


def train_rtdetr(data_yaml: Path, out: Path, spec: DemoModelsSpec, device: str = "cpu") -> Path:
    """Trains the small HF RT-DETR with a plain loop (the model computes its own matching loss) on `device`."""
    import torch
    from PIL import Image
    from transformers import RTDetrForObjectDetection, RTDetrImageProcessor

    from helpers.core.device import use_all_cores
    from helpers.core.logs import progress
    from helpers.cv import label_path, load_data_yaml, read_labels

    use_all_cores()  # the YOLO training before it in this process left torch one thread
    dataset = load_data_yaml(data_yaml)
    torch.manual_seed(spec.seed)
    model = RTDetrForObjectDetection(small_rtdetr_config(dataset.names)).to(device)
    bf16 = spec.trains_in_bf16(device)
    layout = torch.channels_last if bf16 else torch.contiguous_format  # oneDNN's bf16 convolutions prefer it
    model.to(memory_format=layout)
    processor = RTDetrImageProcessor(size={"height": spec.rtdetr_imgsz, "width": spec.rtdetr_imgsz})
    index = {n: i for i, n in enumerate(dataset.names)}
    images, targets = [], []
    for path in dataset.splits["train"][: spec.max_train_images or None]:
        with Image.open(path) as image:
            images.append(processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"][0])
        boxes = read_labels(label_path(path), dataset.names)
        xyxy = torch.tensor([b for _, b in boxes], dtype=torch.float32).reshape(-1, 4)
        centre = torch.cat([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], dim=1)
        labels = torch.tensor([index[n] for n, _ in boxes], dtype=torch.long)
        targets.append({"class_labels": labels.to(device), "boxes": centre.to(device)})
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.rtdetr_lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(spec.seed)
    model.train()
    order: list[int] = []
    for _ in progress(range(spec.rtdetr_steps), desc="RT-DETR", unit="step"):
        if len(order) < spec.rtdetr_batch:
            order += torch.randperm(len(images), generator=generator).tolist()
        batch, order = order[: spec.rtdetr_batch], order[spec.rtdetr_batch :]
        pixels = torch.stack([images[i] for i in batch]).to(device).contiguous(memory_format=layout)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # weights and optimiser stay float32
            loss = model(pixel_values=pixels, labels=[targets[i] for i in batch]).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
    target = out / "rtdetr"
    model.to(memory_format=torch.contiguous_format).save_pretrained(target)
    processor.save_pretrained(target)
    return target
