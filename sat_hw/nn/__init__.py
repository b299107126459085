"""The PyTorch side of the data path: SAT's quantizers (``quant``, with the fused C loops of
``fused``), the models and their checkpoints (``models``, ``checkpoint``), datasets and batches
(``data``, ``batches``), distillation and EMA, the zoo, and ``lower``, which turns a trained model
into the integer graph. May import ``base`` and ``graph``; nothing of ``hw``, ``codegen``,
``tools`` or ``flow``."""
