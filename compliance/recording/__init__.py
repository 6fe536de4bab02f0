"""Encrypted, chunked, multi-track call recordings (docs/adr/0007-recording-container.md)."""

from compliance.recording.container import (
    Frame,
    RecordingReader,
    RecordingWriter,
    recording_path,
)
from compliance.recording.format import RecordingCorrupt, RecordingHeader, TrackSpec
from compliance.recording.keys import (
    AesGcmKeyWrapper,
    AesKwKeyWrapper,
    KeyUnwrapFailed,
    KeyWrapper,
)

__all__ = [
    "AesGcmKeyWrapper",
    "AesKwKeyWrapper",
    "Frame",
    "KeyUnwrapFailed",
    "KeyWrapper",
    "RecordingCorrupt",
    "RecordingHeader",
    "RecordingReader",
    "RecordingWriter",
    "TrackSpec",
    "recording_path",
]
