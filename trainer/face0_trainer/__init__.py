"""face0 trainer: PyTorch training and ONNX export of the Face0 model (see ../README.md)."""
