"""`frontdesk transcribe FILE`: what the voice channel would hear in a recording, with the
workspace's voice settings (language, prompt, limits). Needs the `voice` extra."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from frontdesk.cli.common import fail, friendly, out

WorkspaceOption = Annotated[
    Path,
    typer.Option("--workspace", "-w", envvar="FRONTDESK_WORKSPACE", help="Workspace directory."),
]


@friendly
def transcribe(
    audio: Annotated[Path, typer.Argument(help="A recording: WAV, FLAC, MP3, Ogg, WebM...")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Transcribe a recording as POST /v1/channels/voice would (the first run joins and
    loads the model: a few seconds)."""
    from frontdesk.config.workspace import Workspace, load_settings
    from frontdesk.orchestration.runtime import load_registries

    settings = load_settings(Workspace.at(workspace)).voice
    if not settings.enabled:
        raise fail("voice intake is off in this workspace (voice.enabled: false)")
    transcriber = load_registries().transcribers.create(settings.transcriber, settings=settings)
    transcript = asyncio.run(transcriber.transcribe(audio.expanduser().read_bytes()))
    out.print(transcript.text, highlight=False, markup=False)
    speech = f", speech {transcript.speech_s:.1f} s" if transcript.speech_s is not None else ""
    out.print(
        f"  language={transcript.language} audio {transcript.duration_s:.1f} s{speech}, "
        f"transcribed in {transcript.transcription_ms:.0f} ms ({transcriber.name})",
        style="dim", highlight=False, markup=False,
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("transcribe")(transcribe)
