#!/bin/sh
# make.sh regenerates the audio fixtures in this folder. The tests only read
# the files; they never run this script nor need the tools it uses.
#
# Tools (Debian 12): apt-get install -y ffmpeg lame sox opus-tools flac perl mkvtoolnix;
# and Go, for mkwebm/main.go.
# Versions used for the committed files: ffmpeg 5.1, LAME 3.100,
# opus-tools 0.2 with libopus 1.3.1, flac 1.4.2, mkvtoolnix 74.0.0, Go 1.26.
#
# Every step is deterministic (no dither, fixed Ogg serial number, garbage
# from a fixed linear congruential generator), so running it again with the
# same tool versions gives the same bytes. README.md describes each file.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# The program: 3 s; silence [0, 0.5 s); a tone [0.5, 1.5 s) (440 Hz on the
# left, 660 Hz on the right); silence [1.5, 2 s); a linear sweep from 200 Hz
# to 4 kHz on both channels [2, 3 s). Amplitude 0.5 (-6 dBFS).
L='if(lt(t,0.5),0,if(lt(t,1.5),0.5*sin(2*PI*440*(t-0.5)),if(lt(t,2),0,0.5*sin(2*PI*(200*(t-2)+1900*(t-2)*(t-2))))))'
R='if(lt(t,0.5),0,if(lt(t,1.5),0.5*sin(2*PI*660*(t-0.5)),if(lt(t,2),0,0.5*sin(2*PI*(200*(t-2)+1900*(t-2)*(t-2))))))'
prog() { # rate channels out
	if [ "$2" = 2 ]; then e="$L|$R"; else e="$L"; fi
	ff -f lavfi -i "aevalsrc=exprs='$e':s=$1:d=3" -c:a pcm_s16le "$3"
}
prog 44100 2 "$tmp/prog44.wav"
prog 22050 1 "$tmp/prog22.wav"
prog 48000 2 "$tmp/prog48.wav"
prog 22050 2 "$tmp/prog22s.wav"
prog 8000 1 "$tmp/prog8.wav"
prog 32000 2 "$tmp/prog32.wav"

# One-second tones: 440 Hz (left or mono) and 660 Hz (right), amplitude 0.5.
tone() { # rate channels codec out
	if [ "$2" = 2 ]; then e='0.5*sin(2*PI*440*t)|0.5*sin(2*PI*660*t)'; else e='0.5*sin(2*PI*440*t)'; fi
	ff -f lavfi -i "aevalsrc=exprs='$e':s=$1:d=1" -c:a "$3" "$4"
}
ff -f lavfi -i "aevalsrc=exprs='0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t)':s=48000:d=1" -c:a pcm_s16le tone1k_s16_48000_2.wav
tone 44100 1 pcm_s16le tone_s16_44100_1.wav
tone 48000 1 pcm_s24le tone_s24_48000_1.wav
tone 44100 2 pcm_s24le tone_s24_44100_2.wav
tone 48000 2 pcm_f32le tone_f32_48000_2.wav
# sox writes 32-bit float as plain WAVE_FORMAT_IEEE_FLOAT (not extensible).
tone 44100 1 pcm_f32le "$tmp/f32.wav"
sox -D "$tmp/f32.wav" -e floating-point -b 32 tone_f32_44100_1.wav
# Unsigned 8-bit and 64-bit float, as ffmpeg writes them.
tone 22050 1 pcm_u8 tone_u8_22050_1.wav
tone 8000 2 pcm_f64le tone_f64_8000_2.wav
# ffmpeg writing to a pipe cannot seek back: its RIFF and data sizes stay
# 0xFFFFFFFF.
ff -f lavfi -i "aevalsrc=exprs='0.5*sin(2*PI*440*t)':s=48000:d=1" -c:a pcm_s16le -f wav pipe:1 > pipe_s16_48000_1.wav

# MP3s of the program. LAME writes a Xing ("Info" for CBR) frame with its
# LAME tag: encoder delay and padding.
lame --quiet --noreplaygain -b 128 --cbr "$tmp/prog44.wav" prog_cbr128.mp3
lame --quiet --noreplaygain -V 2 "$tmp/prog44.wav" prog_vbr.mp3
lame --quiet --noreplaygain -b 128 --cbr --id3v2-only --tt "Known Title" --ta "Known Artist" --pad-id3v2-size 512 "$tmp/prog44.wav" prog_id3.mp3
lame --quiet --noreplaygain -m m -b 64 --cbr "$tmp/prog22.wav" prog_22050_mono.mp3
lame --quiet --noreplaygain -b 128 --cbr "$tmp/prog48.wav" prog_48000.mp3
# CRC-protected frames: the Xing header still starts right after the side
# information (the CRC's two bytes are not counted).
lame --quiet --noreplaygain -b 128 --cbr -p "$tmp/prog44.wav" prog_crc.mp3
# No Xing/LAME frame at all: the encoder delay and padding are unknown.
lame --quiet --noreplaygain -b 128 --cbr -t "$tmp/prog44.wav" prog_notag.mp3
# MPEG-2 at 22.05 kHz, 32 kbit/s: about half the frames carry the padding
# bit, and go-mp3 sizes those one byte short.
lame --quiet --noreplaygain -m m -b 32 --cbr "$tmp/prog22.wav" prog_22050_32k.mp3
# Modes and versions the fixtures above lack: MPEG-2 joint stereo; MPEG-2.5
# at 8 kHz; MPEG-1 dual channel (at 32 kHz).
lame --quiet --noreplaygain -m j -b 48 --cbr "$tmp/prog22s.wav" prog_22050_joint.mp3
lame --quiet --noreplaygain -m m -b 16 --cbr "$tmp/prog8.wav" prog_8000_mono.mp3
lame --quiet --noreplaygain -m d -b 64 --cbr --resample 32 "$tmp/prog32.wav" prog_32000_dual.mp3
# ffmpeg's float decoding (mp3float) of the last second of the two MP3s
# go-mp3 does not decode, as raw 24-bit PCM: the reference of the package's
# own decoder there. Their frames are too small for a LAME tag, so ffmpeg
# trims nothing; the last second is the sweep, and the end of the stream.
for f in prog_22050_32k:22050 prog_8000_mono:8000; do
	ff -c:a mp3float -i "${f%%:*}.mp3" -f s24le "$tmp/${f%%:*}.s24"
	tail -c $((3 * ${f##*:})) "$tmp/${f%%:*}.s24" > "${f%%:*}_ffmpeg_end.s24"
done

# Damaged MP3s, from prog_cbr128.mp3: cut mid-frame; 1500 bytes overwritten
# with pseudo-random bytes from offset 20000 (about 1.2 s in).
head -c 30001 prog_cbr128.mp3 > truncated.mp3
perl -e '
	open(my $f, "<:raw", $ARGV[0]) or die; local $/; my $d = <$f>;
	my $x = 12345; my $g = "";
	for (1..1500) { $x = (1103515245 * $x + 12345) % 2147483648; $g .= chr(($x >> 16) & 255) }
	substr($d, 20000, 1500) = $g; print $d;
' prog_cbr128.mp3 > garbage.mp3
: > empty.mp3
printf 'This is a plain text file, not audio.\nIt has no magic bytes of any format.\n' > notaudio.txt

# Ogg Opus of the program at 48 kHz: 20 ms frames, 64 kbit/s, many packets
# per page (opusenc's default one-second page delay), fixed serial number.
opusenc --quiet --serial 1234 --bitrate 64 --comp 10 --framesize 20 "$tmp/prog48.wav" prog.opus
# The same with 2.5 ms packets: pages fill their 255 lacing values.
opusenc --quiet --serial 1235 --bitrate 64 --comp 10 --framesize 2.5 "$tmp/prog48.wav" prog_2500us.opus

# FLAC of the start of the one-second WAVs above (so the tests compare the
# decoded samples with the WAV's, exactly): no padding block; a seek table
# of 10 evenly spaced points where asked, or none (--no-seektable). flac
# warns about the WAVs' LIST chunks, which it drops.
fl() { # wav seconds out options...
	w=$1 s=$2 o=$3; shift 3
	flac --silent --force -8 --no-padding --until="0:$s" "$@" -o "$o" "$w" 2>/dev/null
}
fl tone_s16_44100_1.wav 00.25 tone_s16_44100_1.flac -b 1024 -S 10x
fl tone1k_s16_48000_2.wav 00.25 tone1k_s16_48000_2.flac -b 1024 -S 10x
fl tone1k_s16_48000_2.wav 00.25 tone1k_s16_48000_2_noseek.flac --no-seektable
fl tone_s24_44100_2.wav 00.1 tone_s24_44100_2.flac -b 1152 -S 10x
fl tone_u8_22050_1.wav 00.25 tone_u8_22050_1.flac
# 32-bit FLAC (FLAC 1.4), which mewkiz/flac does not decode.
ff -f lavfi -i "aevalsrc=exprs='0.5*sin(2*PI*440*t)':s=8000:d=0.1" -c:a pcm_s32le "$tmp/s32.wav"
flac --silent --force --no-padding -o tone_s32_8000_1.flac "$tmp/s32.wav" 2>/dev/null

# WebM and Matroska with Opus, from the 48 kHz program (ffmpeg's libopus at
# 64 kbit/s stereo or 32 kbit/s mono, 20 ms packets; -bitexact: no
# version strings, fixed track UIDs). Each file ends with a BlockGroup
# whose DiscardPadding trims the last packet to the program's 144000
# samples, after the OpusHead's pre-skip (also written as CodecDelay).
ff -i "$tmp/prog48.wav" -c:a libopus -b:a 64k -cluster_time_limit 500 -bitexact \
	-metadata title="Known Title" -metadata artist="Known Artist" prog.webm
# To a pipe with -live 1: the Segment has an unknown size, and there are
# no Cues (ffmpeg still writes each Cluster's size).
ff -i "$tmp/prog48.wav" -c:a libopus -b:a 32k -ac 1 -bitexact -live 1 -f webm pipe:1 > prog_mono_pipe.webm
# mkvmerge re-muxes prog.webm as Matroska (DocType "matroska"): it laces
# eight packets a SimpleBlock, and takes a TimestampScale of 20832 ns.
mkvmerge --quiet --deterministic 1 -o prog_laced.mka prog.webm
# mkwebm (mkwebm/main.go) writes what no muxer above writes, from the
# packets ffmpeg reads out of prog.webm into an Ogg file: Xiph lacing;
# EBML lacing with fixed-size lacing for runs of packets of one size; a
# Segment and Clusters of unknown size, as a browser's MediaRecorder
# writes them, with Voids, a CRC-32 in the Info, and Tags after the last
# Cluster.
ff -i prog.webm -c:a copy "$tmp/prog_webm.ogg"
len=$(( $(ffmpeg -nostdin -v error -i prog.webm -f s16le - | wc -c) / 4 ))
go run mkwebm/main.go -lacing xiph -frames 4 -length "$len" "$tmp/prog_webm.ogg" prog_xiph.webm
go run mkwebm/main.go -lacing ebml -frames 6 -length "$len" "$tmp/prog_webm.ogg" prog_ebml.webm
go run mkwebm/main.go -unknown -title "Known Title" -artist "Known Artist" -length "$len" "$tmp/prog_webm.ogg" prog_unknownsize.webm
# Cut inside a block of the third Cluster.
head -c 12000 prog.webm > prog_cut.webm
# Vorbis in WebM, which is not passed through.
ff -i "$tmp/prog48.wav" -t 0.5 -ac 1 -c:a libvorbis -q:a 0 -bitexact prog_vorbis.webm

# What ffmpeg reads out of each WebM above (its packets, byte for byte,
# through -f data; their sizes as ffprobe shows them) and decodes (its
# samples, after the pre-skip and the DiscardPadding), one line a file:
# name, samples, SHA-256 of the packets end to end, sizes. The tests
# compare the demuxer with it. The files mkwebm wrote must hold the same
# packets as prog.webm: checked here.
: > webm_ffmpeg.txt
for f in prog.webm prog_mono_pipe.webm prog_laced.mka prog_xiph.webm prog_ebml.webm prog_unknownsize.webm; do
	ch=$(ffprobe -v error -select_streams a:0 -show_entries stream=channels -of csv=p=0 "$f")
	samples=$(( $(ffmpeg -nostdin -v error -i "$f" -f s16le - | wc -c) / (2 * ch) ))
	sha=$(ffmpeg -nostdin -v error -i "$f" -map 0:a:0 -c copy -f data - | sha256sum | cut -d' ' -f1)
	sizes=$(ffprobe -v error -select_streams a:0 -show_entries packet=size -of csv=p=0 "$f" | cut -d, -f1 | grep -v "^$" | paste -sd, -)
	echo "$f $samples $sha $sizes" >> webm_ffmpeg.txt
done
want=$(grep '^prog.webm ' webm_ffmpeg.txt | cut -d' ' -f2-)
for f in prog_laced.mka prog_xiph.webm prog_ebml.webm prog_unknownsize.webm; do
	got=$(grep "^$f " webm_ffmpeg.txt | cut -d' ' -f2-)
	[ "$got" = "$want" ] || { echo "make.sh: ffmpeg reads other packets from $f than from prog.webm" >&2; exit 1; }
done
