"""torchaudio 0.13 reference features for tests/test_audio.c (src/audio/features.c).

Run from the repository root with the interpreter that has torch + torchaudio:
    /usr/bin/python3 tests/gen/gen_audio_features.py   # -> tests/fixtures/audio_features.safetensors

Inputs are PCG32-generated (two sines plus uniform noise), stored in the fixture next to
each output, so the C test reads them instead of regenerating them. Each case is one
torchaudio transform call with the settings written next to it; test_audio.c sets the
same ft_feature_opts (keep the two lists in step).
"""
import os
import sys

import numpy as np
import torch
import torchaudio

sys.path.insert(0, os.path.dirname(__file__))
from pcg32 import PCG32  # noqa: E402
import stio  # noqa: E402

assert torchaudio.__version__.startswith("0.13"), torchaudio.__version__
T = torchaudio.transforms


def signal(n, rate, seed):
    r = PCG32(seed, 7)
    noise = np.array([r.uniform() for _ in range(n)], dtype=np.float64) * 2 - 1
    t = np.arange(n) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t + 0.3) + 0.05 * noise
    return torch.tensor(x, dtype=torch.float32)


def povey(n):
    return torch.hann_window(n, periodic=False).pow(0.85)


x16 = signal(4000, 16000, 1)
x8 = signal(2000, 8000, 2)
out = {"x16": x16, "x8": x8}

# 1. MelSpectrogram() defaults: n_fft 400, hop 200, hann, center reflect, power 2, 128 HTK mels
out["mel_default"] = T.MelSpectrogram(sample_rate=16000)(x16)
# 2. MFCC() defaults: 40 coefficients, dB mels (top_db 80), DCT-II ortho
out["mfcc_default"] = T.MFCC(sample_rate=16000)(x16)
# 3. magnitude spectrogram, n_fft 512, win 400 (zero-padded, centred), hop 160, hamming
out["spec_hamming_mag"] = T.Spectrogram(n_fft=512, win_length=400, hop_length=160,
                                        window_fn=torch.hamming_window, power=1.0)(x16)
# 4. Slaney scale + Slaney norm, fmin/fmax, no centring
out["mel_slaney"] = T.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40,
                                     f_min=20.0, f_max=7600.0, norm="slaney", mel_scale="slaney",
                                     center=False)(x16)
# 5. log-mel in dB with top_db 80
out["logmel_db"] = T.AmplitudeToDB("power", top_db=80.0)(T.MelSpectrogram(sample_rate=16000, n_mels=64)(x16))
# 6. MFCC with log_mels (ln(mel + 1e-6)), 13 coefficients, 40 mels, n_fft 512, hop 160
out["mfcc_logmels"] = T.MFCC(sample_rate=16000, n_mfcc=13, log_mels=True,
                             melkwargs={"n_fft": 512, "hop_length": 160, "n_mels": 40})(x16)
# 7. 8 kHz, Povey window, 32 mels, n_fft 256, win 200, hop 80
out["mel_8k_povey"] = T.MelSpectrogram(sample_rate=8000, n_fft=256, win_length=200, hop_length=80, n_mels=32,
                                       window_fn=povey)(x8)

# 8. openWakeWord's melspectrogram.onnx (../shared/models/openwakeword), evaluated node by
# node in numpy: Conv(stride 160) with its real/imag STFT kernels, power, MatMul melW,
# Clip(1e-10), 10 * ln(x) / ln(10), max - 80 floor; then openWakeWord's x / 10 + 2.
# Stored as [32, T] like the others.
OWW = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "models", "openwakeword",
                   "melspectrogram.onnx")
if os.path.exists(OWW):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(OWW)
    W = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in m.graph.node if n.op_type == "Constant"}
    assert float(consts["onnx::Mul_26"]) == 10.0 and float(consts["onnx::Sub_33"]) == 80.0
    x = x16.numpy().astype(np.float64)
    nfr = 1 + (len(x) - 512) // 160
    fr = np.stack([x[t * 160:t * 160 + 512] for t in range(nfr)])
    re = fr @ W["0.stft.conv_real.weight"][:, 0, :].T
    im = fr @ W["0.stft.conv_imag.weight"][:, 0, :].T
    mel = (re ** 2 + im ** 2) @ W["1.melW"]
    db = 10.0 * np.log(np.maximum(mel, 1e-10)) / float(consts["onnx::Div_28"])
    db = np.maximum(db, db.max() - 80.0)
    out["oww_mel"] = torch.tensor((db / 10.0 + 2.0).T.copy(), dtype=torch.float32)
else:
    print("skipping oww_mel:", OWW, "not found")

path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "audio_features.safetensors")
stio.save(path, {k: v.contiguous() for k, v in out.items()},
          {"torchaudio": torchaudio.__version__, "torch": torch.__version__})
print("wrote", os.path.normpath(path), {k: tuple(v.shape) for k, v in out.items()})
