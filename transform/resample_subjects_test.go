package transform_test

func resamplerSubjects() []subject { return nil }
