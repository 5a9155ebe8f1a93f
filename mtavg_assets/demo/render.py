"""Render a clip script to an mp4: boxes for characters, tones for voices, chords for music.

Audio is synthesised sample-exactly with numpy (so injected offsets are exact); video is drawn
with ffmpeg filters (drawbox/drawtext with time-based `enable`), then both are muxed with x264/aac.
"""

from __future__ import annotations

import wave
from pathlib import Path

import ffmpeg
import numpy as np

from mtavg_assets.demo.script import ClipScript, character_x, shots

WIDTH, HEIGHT, FPS, SAMPLE_RATE = 320, 180, 12, 16000
FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MUSIC_CHORDS = {"cheerful": (523.25, 659.25, 783.99), "tense": (92.5, 98.0, 138.6)}
MOUTH_BOX = (22, 18, 16, 6)  # x offset in the head, y, width, height
HEAD_Y = (52, 58)  # head top when up / down (the listening nod)


def synthesize_audio(script: ClipScript) -> np.ndarray:
    """Voices as harmonic tones with a syllable envelope, over a quiet chord for the music."""
    n = int(round(script.duration * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    for start, end, mood in script.music:
        mask = (t >= start) & (t < end)
        for hz in MUSIC_CHORDS[mood]:
            out[mask] += 0.025 * np.sin(2 * np.pi * hz * t[mask])
    for line in script.lines:
        hz = script.characters[line.voice].voice_hz
        s, e = line.start + line.audio_shift, line.end + line.audio_shift
        mask = (t >= s) & (t < e)
        tt = t[mask]
        envelope = 0.65 + 0.35 * np.sin(2 * np.pi * 4.0 * (tt - s))
        out[mask] += 0.3 * envelope * (np.sin(2 * np.pi * hz * tt) + 0.3 * np.sin(4 * np.pi * hz * tt))
    return np.clip(out, -1.0, 1.0)


def write_wav(samples: np.ndarray, path: Path) -> None:
    pcm = (samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())


def _between(spans: list[tuple[float, float]]) -> str:
    return "+".join(f"between(t,{s:.3f},{e:.3f})" for s, e in spans) or "0"


def _draw_video(script: ClipScript, stream):
    base_colour = "0xf2d9a0" if script.mood == "cheerful" else "0x8a8f9a"
    stream = stream.drawbox(0, 0, WIDTH, HEIGHT, color=base_colour, thickness="fill")
    if script.dark_light:
        stream = stream.drawbox(
            0, 0, WIDTH, HEIGHT, color="0x10183a", thickness="fill", enable=_between([script.dark_light])
        )
    for index, char in enumerate(script.characters):
        speaking = _between(script.speaking(index))
        colours = [(0.0, script.duration + 1, char.colour)]
        if script.drift and script.drift[0] == index:
            colours = [(0.0, script.drift[1], char.colour), (script.drift[1], script.duration + 1, script.drift[2])]
        frozen = "0"
        if script.frozen_listener and script.frozen_listener[0] == index:
            frozen = _between([script.frozen_listener[1:]])
        for shot_start, shot_end, _, _ in shots(script):
            x = character_x(script, index, shot_start)
            in_shot = f"between(t,{shot_start:.3f},{shot_end - 1e-3:.3f})"
            for c_start, c_end, colour in colours:
                visible = f"{in_shot}*between(t,{c_start:.3f},{c_end - 1e-3:.3f})"
                stream = stream.drawbox(x, 90, 60, 80, color=colour, thickness="fill", enable=visible)
            # Head nods while the character listens; a frozen listener stays up.
            up = f"{in_shot}*(lt(mod(t,1),0.5)+gt({frozen},0))"
            down = f"{in_shot}*gte(mod(t,1),0.5)*eq({frozen},0)"
            for head_y, cond in ((HEAD_Y[0], up), (HEAD_Y[1], down)):
                stream = stream.drawbox(x + 10, head_y, 40, 34, color="0xe8c8a8", thickness="fill", enable=cond)
                mx, my, mw, mh = MOUTH_BOX
                stream = stream.drawbox(
                    x + 10 + mx - 10,
                    head_y + my,
                    mw,
                    mh,
                    color="0x200000",
                    thickness="fill",
                    enable=f"{cond}*gt({speaking},0)",
                )
            if FONT_FILE.exists():
                stream = stream.drawtext(
                    text=char.name,
                    x=x + 12,
                    y=20,
                    fontsize=14,
                    fontcolor="black",
                    fontfile=str(FONT_FILE),
                    enable=in_shot,
                )
    if FONT_FILE.exists():
        for line in script.lines:
            stream = stream.drawtext(
                text=line.text,
                x=8,
                y=HEIGHT - 14,
                fontsize=10,
                fontcolor="white",
                box=1,
                boxcolor="black@0.6",
                fontfile=str(FONT_FILE),
                enable=_between([(line.start, line.end)]),
            )
    return stream


def render_clip(script: ClipScript, out_path: Path) -> None:
    """Render and mux; the temporary WAV lives next to the output and is removed afterwards."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    wav_path = out_path.with_suffix(".wav")
    write_wav(synthesize_audio(script), wav_path)
    try:
        video = ffmpeg.input(f"color=c=black:s={WIDTH}x{HEIGHT}:r={FPS}:d={script.duration}", f="lavfi")
        audio = ffmpeg.input(str(wav_path))
        (
            ffmpeg.output(
                _draw_video(script, video),
                audio,
                str(out_path),
                vcodec="libx264",
                preset="ultrafast",
                crf=28,
                pix_fmt="yuv420p",
                acodec="aac",
                audio_bitrate="64k",
                shortest=None,
                movflags="+faststart",
            )
            .global_args("-nostdin", "-loglevel", "error", "-threads", "1")
            .overwrite_output()
            .run(capture_stdout=True, capture_stderr=True)
        )
    except ffmpeg.Error as exc:
        raise RuntimeError(f"ffmpeg failed rendering {script.clip_id}: {exc.stderr.decode(errors='replace')}") from exc
    finally:
        wav_path.unlink(missing_ok=True)
