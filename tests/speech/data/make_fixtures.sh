#!/bin/sh
# How the committed recordings were made (Debian espeak-ng 1.51 and sox; not needed by tests).
# 16 kHz mono, a few seconds each: small enough to commit, real speech for Whisper.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
espeak-ng -v en-gb -s 140 -w "$tmp/refund.wav" "I want a refund for my order"
sox "$tmp/refund.wav" -r 16000 -c 1 -b 16 refund.wav
espeak-ng -v en-us -s 140 -w "$tmp/order.wav" \
  "Where is my parcel? The order number is K P 2 0 4 8 1 7 3 6."
sox "$tmp/order.wav" -r 16000 -c 1 -b 16 order.flac
rm -r "$tmp"
