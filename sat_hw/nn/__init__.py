"""The PyTorch side of the data path: SAT's quantizers (``quant``, with the fused C loops of
``fused``), the models and their checkpoints (``models``, ``checkpoint``), datasets and batches
(``data``, ``batches``), distillation and EMA, the zoo, and ``lower``, which turns a trained model
into the integer graph. May import ``base`` and ``graph``; nothing of ``hw``, ``codegen``,
``tools`` or ``flow``.

``from sat_hw.nn import load_checkpoint`` (also ``read_checkpoint``, ``save_checkpoint``) is
:mod:`sat_hw.nn.checkpoint`'s, imported on first use: ``import sat_hw.nn`` (and its torch-free
``zoo``) imports no torch."""

_CHECKPOINT = ("load_checkpoint", "read_checkpoint", "save_checkpoint")


def __getattr__(name: str):
    if name in _CHECKPOINT:
        from sat_hw.nn import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
