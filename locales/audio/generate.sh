#!/bin/sh
# Regenerates the built-in stand-in recordings of the recorded languages
# (voice.toml: recorded = true; today Urdu) with espeak-ng: one 8 kHz mono
# WAV file per voice prompt, and script.toml, what each one says. Run it
# after changing a Voice* text of a recorded language; the locales tests
# fail until the recordings say what the texts say.
#
#   locales/audio/generate.sh                      Urdu, into locales/audio/ur
#   locales/audio/generate.sh -lang ur -name "Asha" -out /srv/saathi/voice/ur
#                                                  stand-ins saying a cover name,
#                                                  for SAATHI_VOICE_AUDIO_DIR
#
# It runs from the repository root: give -out as an absolute path.
#
# The stand-ins are robotic: replace them with a native speaker's
# recordings (README, "Voice prompts").
set -eu
if ! command -v espeak-ng >/dev/null 2>&1; then
	echo "generate.sh: espeak-ng is missing (apt-get install -y espeak-ng)" >&2
	exit 1
fi
cd "$(dirname "$0")/../.."
exec go run ./locales/internal/audiogen "$@"
