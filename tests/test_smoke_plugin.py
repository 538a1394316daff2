import anyio


async def test_runs(anyio_backend_name: str) -> None:
    await anyio.lowlevel.checkpoint()
    assert anyio_backend_name in ("asyncio", "trio")
