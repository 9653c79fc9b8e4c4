//go:build ignore

// Command filter copies the MLS working group's test vectors that the
// packages pipeline/voice/dave/internal/mls and pipeline/voice/dave (the
// passive-client vectors) check into this directory, keeping only the
// vectors of the cipher suites they implement (1 and 2).
// Files whose vectors name no cipher suite are copied whole. Each kept
// vector's JSON is copied unchanged but for its white space, which is
// removed.
//
//	go run filter.go /path/to/mls-implementations/test-vectors
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

// files are the vector files the package's tests read.
var files = []string{
	"crypto-basics.json",
	"deserialization.json",
	"key-schedule.json",
	"message-protection.json",
	"messages.json",
	"passive-client-handling-commit.json",
	"passive-client-welcome.json",
	"psk_secret.json",
	"secret-tree.json",
	"transcript-hashes.json",
	"tree-math.json",
	"tree-operations.json",
	"tree-validation.json",
	"treekem.json",
	"welcome.json",
}

// suites are the cipher suites kept.
var suites = map[int]bool{1: true, 2: true}

// limits caps the number of vectors kept from files whose vectors name no
// suite and that are large.
var limits = map[string]int{"messages.json": 60}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run filter.go SOURCE_DIR")
	}
	for _, name := range files {
		if err := filter(filepath.Join(os.Args[1], name), name); err != nil {
			log.Fatalf("%s: %v", name, err)
		}
	}
}

func filter(src, dst string) error {
	in, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var vectors []json.RawMessage
	if err := json.Unmarshal(in, &vectors); err != nil {
		return err
	}
	var out bytes.Buffer
	out.WriteString("[\n")
	kept := 0
	for _, v := range vectors {
		var head struct {
			CipherSuite *int `json:"cipher_suite"`
		}
		// Some files hold objects, some arrays of headers; only objects
		// can name a suite.
		_ = json.Unmarshal(v, &head)
		if head.CipherSuite != nil && !suites[*head.CipherSuite] {
			continue
		}
		if limit, ok := limits[dst]; ok && kept == limit {
			break
		}
		if kept > 0 {
			out.WriteString(",\n")
		}
		if err := json.Compact(&out, v); err != nil {
			return err
		}
		kept++
	}
	out.WriteString("\n]\n")
	fmt.Printf("%s: kept %d of %d\n", dst, kept, len(vectors))
	return os.WriteFile(dst, out.Bytes(), 0o644)
}
