"""A PBX double that speaks the captured Asterisk 22 dialect (tests and the demo)."""

from gateway.pbx_double.calls import SimulatedCall
from gateway.pbx_double.double import PbxDouble, load_caller_wav

__all__ = ["PbxDouble", "SimulatedCall", "load_caller_wav"]
