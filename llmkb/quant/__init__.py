"""Weight quantization: integers plus scales in place of floats.

* [`uniform`][llmkb.quant.uniform] — symmetric (absmax) and asymmetric (zero-point) quantizers of a weight
  matrix per tensor, per output channel or per group of input channels, at any bit width (8, 4, 3 ...);
* [`pack`][llmkb.quant.pack] — two 4-bit values per byte, and AutoAWQ's eight-nibbles-per-int32 order;
* [`linear`][llmkb.quant.linear] — a linear layer that stores packed integers and scales and dequantizes on
  the fly;
* [`ggml`][llmkb.quant.ggml] — llama.cpp's block formats Q8_0 and Q4_0, byte for byte;
* [`awq`][llmkb.quant.awq] — activation-aware per-channel scaling (Lin et al. 2023);
* [`gptq`][llmkb.quant.gptq] — column-by-column rounding with error compensation (Frantar et al. 2022);
* [`qat`][llmkb.quant.qat] — fake quantization with the straight-through estimator and QAT;
* [`model`][llmkb.quant.model] — a quantized *copy* of a model and its size in bytes.
"""

from llmkb.quant.uniform import QTensor, QuantSpec, dequantize, fake_quant, quantize, quantize_dequantize

__all__ = ["QTensor", "QuantSpec", "dequantize", "fake_quant", "quantize", "quantize_dequantize"]
