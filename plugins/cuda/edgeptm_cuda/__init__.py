"""edgeptm's CUDA backend: PyTorch on NVIDIA GPUs (fp32, fp16, bf16 where supported)."""

from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    from edgeptm_cuda.backend import CudaBackend

    register(CudaBackend())
