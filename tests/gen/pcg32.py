"""PCG32 (XSH-RR, 64-bit state), bit-identical to ft_pcg32_* in src/core/params.c.

seed(initstate, initseq): state = 0; inc = (initseq << 1) | 1; next(); state += initstate; next()
next(): old = state; state = old * 6364136223846793005 + inc (mod 2^64);
        xorshifted = ((old >> 18) ^ old) >> 27 (low 32 bits); rot = old >> 59;
        return rotr32(xorshifted, rot)
uniform(): (next() >> 8) * 2^-24, in [0, 1) with 24 bits (exact in float32).
"""
import numpy as np

_MASK64 = (1 << 64) - 1
_MASK32 = 0xFFFFFFFF
_MULT = 6364136223846793005


class PCG32:
    def __init__(self, initstate, initseq):
        self.state = 0
        self.inc = ((initseq << 1) | 1) & _MASK64
        self.next()
        self.state = (self.state + initstate) & _MASK64
        self.next()

    def next(self):
        old = self.state
        self.state = (old * _MULT + self.inc) & _MASK64
        xorshifted = (((old >> 18) ^ old) >> 27) & _MASK32
        rot = old >> 59
        return ((xorshifted >> rot) | (xorshifted << ((-rot) & 31))) & _MASK32

    def uniform(self):
        return (self.next() >> 8) * (1.0 / 16777216.0)


def uniform_tensor(shape, seed, stream, bound):
    """float32 array of `shape`, value_k = (2*u_k - 1) * bound in row-major order, computed
    in float32 exactly as the C side: (2.0f * u - 1.0f) * bound."""
    n = int(np.prod(shape)) if len(shape) else 1
    r = PCG32(seed, stream)
    u = np.array([r.uniform() for _ in range(n)], dtype=np.float32)
    b = np.float32(bound)
    v = (np.float32(2.0) * u - np.float32(1.0)) * b
    return v.astype(np.float32).reshape(shape)


if __name__ == "__main__":
    # Reference values for the C test of ft_pcg32 (seed 42, stream 54: the PCG paper's demo).
    r = PCG32(42, 54)
    print([hex(r.next()) for _ in range(6)])
