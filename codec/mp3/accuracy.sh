#!/usr/bin/env bash
# accuracy.sh checks the package's own Layer III decoder against ffmpeg's
# float decoder (mp3float) on a matrix of MP3s made here with LAME and
# ffmpeg: every rate of MPEG-1, MPEG-2 and MPEG-2.5, every channel mode
# LAME writes (stereo, joint, forced mid/side, dual channel, mono), CBR and
# VBR, CRC frames, padded MPEG-2 at 32 kbit/s, long and short blocks (the
# program has sharp attacks, so LAME switches windows). The bound is ISO/IEC
# 11172-4's "full accuracy": an RMS difference under 2^-15/sqrt(12) of full
# scale and no sample off by more than 2^-14, with the same length to the
# sample after gapless trimming; and LAME's own decoder agreeing to its
# 16-bit rounding. TestAccuracyMatrix reads the matrix from
# MP3_MATRIX. Debian's ffmpeg and lame are installed if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=""
command -v ffmpeg >/dev/null || need="$need ffmpeg"
command -v lame >/dev/null || need="$need lame"
if [ -n "$need" ]; then
	echo "accuracy: installing Debian's$need"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need >/dev/null
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# The program, 4 s at each rate: pink noise under two tones, with a
# castanet-like click (a 2 ms decaying burst) every 250 ms for the short
# blocks, and 0.3 s of silence at the start.
src() { # rate channels out
	ff -f lavfi -i "anoisesrc=color=pink:r=$1:d=4:a=0.15:seed=7" \
		-f lavfi -i "aevalsrc=exprs='if(lt(t,0.3),0,0.25*sin(2*PI*330*t)+0.15*sin(2*PI*1250*t)+0.5*exp(-mod(t,0.25)*900)*sin(2*PI*3100*t))':s=$1:d=4" \
		-filter_complex "[0][1]amix=inputs=2:normalize=0,volume=1.2" -ac "$2" -c:a pcm_s16le "$3"
}

# name rate channels lame options
matrix='
m1_44_stereo_cbr128 44100 2 -m s -b 128
m1_44_joint_vbr2 44100 2 -m j -V 2
m1_44_joint_cbr320 44100 2 -m j -b 320
m1_44_ms_cbr192 44100 2 -m f -b 192
m1_44_crc_joint_cbr128 44100 2 -p -m j -b 128
m1_48_dual_cbr192 48000 2 -m d -b 192
m1_48_joint_vbr0 48000 2 -m j -V 0
m1_32_mono_cbr64 32000 1 -m m -b 64
m1_32_stereo_vbr5 32000 2 -m s -V 5
m2_22_joint_vbr4 22050 2 -m j -V 4
m2_22_mono_cbr32 22050 1 -m m -b 32
m2_24_stereo_cbr64 24000 2 -m s -b 64
m2_16_mono_vbr6 16000 1 -m m -V 6
m2_16_crc_joint_cbr48 16000 2 -p -m j -b 48
m25_8_mono_cbr16 8000 1 -m m -b 16
m25_11_joint_cbr32 11025 2 -m j -b 32
m25_12_stereo_vbr7 12000 2 -m s -V 7
'
echo "$matrix" | while read -r name rate ch opts; do
	[ -n "$name" ] || continue
	[ -f "$dir/src_${rate}_$ch.wav" ] || src "$rate" "$ch" "$dir/src_${rate}_$ch.wav"
	# shellcheck disable=SC2086
	lame --quiet --noreplaygain $opts "$dir/src_${rate}_$ch.wav" "$dir/$name.mp3"
done
# And two written by ffmpeg (through libmp3lame, with its own tag).
src 44100 2 "$dir/ff.wav"
ff -i "$dir/ff.wav" -c:a libmp3lame -b:a 160k "$dir/ff_44_cbr160.mp3"
ff -i "$dir/src_22050_1.wav" -c:a libmp3lame -q:a 3 "$dir/ff_22_mono_vbr3.mp3"

# ffmpeg's float decoder, gapless-trimmed by its demuxer from the LAME
# tag; and LAME's own decoder (16-bit), trimmed the same way.
for f in "$dir"/*.mp3; do
	ff -c:a mp3float -i "$f" -f f32le "${f%.mp3}.f32"
	lame --quiet --decode -t "$f" "${f%.mp3}.s16"
done
ls "$dir"/*.mp3 | wc -l | xargs echo "accuracy: matrix of" | sed 's/$/ files/'

MP3_MATRIX="$dir" go test -race -count=1 -run 'TestAccuracyMatrix' -v ./codec/mp3 | grep -v '^=== RUN'
