package transform_test

import "github.com/streamcatcher/streamcatcher/transform"

// resampled adapts a Resampler for the contract tests.
type resampled struct{ *transform.Resampler }

func (r resampled) outFrames(n int64) int64 { return r.OutFrames(n) }

// resamplerSubjects lists resamplers over the ratios, channel counts,
// encodings and presets that take different paths.
func resamplerSubjects() []subject {
	cases := []struct {
		name string
		in   transform.Format
		out  int
		q    transform.Quality
	}{
		{"44.1k to 48k stereo f32 high", transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}, 48000, transform.High},
		{"48k to 16k mono s16 medium", transform.Format{Rate: 48000, Channels: 1}, 16000, transform.Medium},
		{"8k to 48k stereo s24 fast", transform.Format{Rate: 8000, Channels: 2, Encoding: transform.S24LE}, 48000, transform.Fast},
		{"96k to 48k stereo s16 high", transform.Format{Rate: 96000, Channels: 2}, 48000, transform.High},
		{"22.05k to 48k 3 ch f32 medium", transform.Format{Rate: 22050, Channels: 3, Encoding: transform.F32LE}, 48000, transform.Medium},
		{"44.1k to 48001 stereo s16 interpolated", transform.Format{Rate: 44100, Channels: 2}, 48001, transform.Medium},
		{"48k to 48k stereo s16", transform.Format{Rate: 48000, Channels: 2}, 48000, transform.Fast},
	}
	ss := make([]subject, len(cases))
	for i, c := range cases {
		ss[i] = subject{"resample " + c.name, c.in.BytesPerFrame(), func() pcm {
			return resampled{must(transform.NewResampler(c.in, c.out, c.q))}
		}}
	}
	return ss
}
