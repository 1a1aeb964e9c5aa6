"""pycrdt-websocket's ASGI server, for uvicorn.

    uvicorn --app-dir bench/peers pycrdt_app:app --host 127.0.0.1 --port P

The room is the URL path, as in pycrdt-websocket's documentation. The ASGI
lifespan owns the WebsocketServer (its own ASGIServer acknowledges the
lifespan but starts nothing). `exception_logger` is the library's own handler:
an error in one client is logged instead of taking the server down.
"""

from pycrdt.websocket import ASGIServer, WebsocketServer, exception_logger

websocket_server = WebsocketServer(exception_handler=exception_logger)
_asgi = ASGIServer(websocket_server)


async def app(scope, receive, send):
    if scope["type"] != "lifespan":
        await _asgi(scope, receive, send)
        return
    async with websocket_server:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
