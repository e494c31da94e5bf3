"""AudioSocket edge: the TCP server Asterisk's ``AudioSocket()`` connects to.

Public API::

    server = AudioSocketServer(settings.audiosocket, handler)
    host, port = await server.start()
    ...
    await server.stop()

    async def handler(call: AudioSocketCall) -> None:
        async for item in call.incoming():      # Audio(pcm) / Dtmf(digit)
            ...
        completed = await call.play(pcm)        # 20 ms paced; stop_playback() interrupts
        await call.hangup()                     # 0x00 then close
"""

from gateway.audiosocket.call import Audio, AudioSocketCall, CloseReason, Dtmf, Incoming
from gateway.audiosocket.protocol import Frame, FrameDecoder, Kind, ProtocolError
from gateway.audiosocket.server import AudioSocketServer, Handler, RejectCall

__all__ = [
    "Audio",
    "AudioSocketCall",
    "AudioSocketServer",
    "CloseReason",
    "Dtmf",
    "Frame",
    "FrameDecoder",
    "Handler",
    "Incoming",
    "Kind",
    "ProtocolError",
    "RejectCall",
]
