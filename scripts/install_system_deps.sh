#!/usr/bin/env bash
# Installs the programs mtavg needs from the OS package manager when they are missing:
# ffmpeg/ffprobe (clip probing, rendering, media recipes) and the DejaVu font (demo labels);
# with --browser also Chromium, which the UI test drives headless through Playwright; with
# --postgres also PostgreSQL, which the test of the Postgres instance profile starts in a temp dir.
set -euo pipefail
need=()
for flag in "$@"; do
  case "$flag" in
    --browser) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    --postgres) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql) ;;
  esac
done
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ "${#need[@]}" -eq 0 ]; then exit 0; fi
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "please install: ${need[*]} (no apt-get on this machine)" >&2
  exit 1
fi
