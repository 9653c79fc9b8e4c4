// Command discordlike will be a voice service on loopback: a gateway, guild
// bots playing one shared cached track over encrypted RTP, and WebRTC
// listeners. The audio layers it needs are not built yet; for now it shows
// the catcher at its heart: one source read once, by many listeners at once.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
)

func main() {
	listeners := flag.Int("listeners", 64, "goroutines reading the shared stream")
	size := flag.Int("bytes", 8<<20, "length of the stream")
	flag.Parse()
	if err := run(*listeners, *size); err != nil {
		log.Fatal(err)
	}
}

func run(listeners, size int) error {
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i*7 + i>>11)
	}
	reads := 0
	c := catcher.New(&countReads{r: bytes.NewReader(src), n: &reads})
	defer c.Close()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, listeners)
	for i := 0; i < listeners; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check := &compare{want: src}
			if _, err := io.Copy(check, c.NewReader()); err != nil {
				errs <- err
				return
			}
			if len(check.want) != 0 {
				errs <- fmt.Errorf("a listener read %d bytes too few", len(check.want))
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("the full voice service is not built yet; this run shows its stream cache\n")
	fmt.Printf("%d listeners each read %d bytes, all identical to the source, in %v (%.1f GB/s in all)\n",
		listeners, size, el.Round(time.Millisecond), float64(listeners)*float64(size)/el.Seconds()/1e9)
	fmt.Printf("the source was read once, in %d calls; %d bytes cached in %d chunks\n",
		reads, c.Stats().Len, c.Stats().Chunks)
	return nil
}

type countReads struct {
	r io.Reader
	n *int
}

func (c *countReads) Read(p []byte) (int, error) {
	*c.n++
	return c.r.Read(p)
}

// compare is a writer that checks what it is given against want.
type compare struct{ want []byte }

func (c *compare) Write(p []byte) (int, error) {
	if len(p) > len(c.want) || !bytes.Equal(p, c.want[:len(p)]) {
		return 0, fmt.Errorf("a listener read different bytes")
	}
	c.want = c.want[len(p):]
	return len(p), nil
}
