"""The names deploy offers, without torch: export formats and reduced precisions (the CLI's choices)."""

FORMATS = {"torchscript": ".pt", "onnx": ".onnx", "exported-program": ".pt2"}  # export format: file suffix
PRECISIONS = ("fp32", "bf16", "fp16", "int8-dynamic")  # precision.py's reduced-precision twins
