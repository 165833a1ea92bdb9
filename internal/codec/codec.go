// Package codec encrypts every payload upgrader's clients write to Temporal
// (workflow and activity inputs and results, heartbeat details, update and
// signal arguments, memos, failure messages and stack traces) with
// AES-256-GCM, so that Temporal's database, `temporal workflow show` and a
// Web UI without the codec server hold ciphertext only.
//
// Keys live in a key ring: a file (or an environment variable) with one key
// a line, "<id> <64 hex digits>", the first line the key that encrypts.
// Every encrypted payload carries its key's ID in its metadata, so a run
// started before a rotation still decrypts as long as the old key stays in
// the ring.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding is the metadata encoding of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key that encrypted a payload.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the cipher.
	MetadataCipher = "encryption-cipher"
	cipherName     = "AES-256-GCM"
)

// Ring is a set of keys by ID; Current encrypts, every key decrypts.
type Ring struct {
	Current string
	keys    map[string]cipher.AEAD
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseRing reads a key ring's text: one "<id> <64 hex digits>" a line,
// blank lines and #-comments ignored, the first key the current one. Errors
// name the line, never a key.
func ParseRing(text string) (*Ring, error) {
	r := &Ring{keys: map[string]cipher.AEAD{}}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !keyIDPattern.MatchString(f[0]) {
			return nil, fmt.Errorf("line %d: want \"<key id> <64 hex digits>\" (the id letters, digits, . _ -); "+
				"make one with `starter codec-key ID`", i+1)
		}
		raw, err := hex.DecodeString(f[1])
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("line %d: key %s is not 32 bytes in hex (64 hex digits); make one with `starter codec-key %s`", i+1, f[0], f[0])
		}
		if _, dup := r.keys[f[0]]; dup {
			return nil, fmt.Errorf("line %d: key id %s appears twice", i+1, f[0])
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		r.keys[f[0]] = aead
		if r.Current == "" {
			r.Current = f[0]
		}
	}
	if r.Current == "" {
		return nil, errors.New("holds no key; make one with `starter codec-key ID`")
	}
	return r, nil
}

// LoadRing reads a ring from a file or, when file is empty, from the
// environment variable env. Errors say which.
func LoadRing(file, env string) (*Ring, error) {
	var text, where string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("unable to read the codec key file %s: %w", file, err)
		}
		text, where = string(b), "codec key file "+file
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, fmt.Errorf("the codec keys come from environment variable %s, which is not set", env)
		}
		text, where = v, "codec keys in $"+env
	default:
		return nil, errors.New("no codec keys configured")
	}
	r, err := ParseRing(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return r, nil
}

// NewKeyLine returns a fresh ring line "<id> <hex key>" for id.
func NewKeyLine(id string) (string, error) {
	if !keyIDPattern.MatchString(id) {
		return "", fmt.Errorf("key id %q: use letters, digits, '.', '_' or '-' (at most 64)", id)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return id + " " + hex.EncodeToString(b), nil
}

// Codec is the payload codec over a ring.
type Codec struct{ ring *Ring }

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns the codec for r.
func New(r *Ring) *Codec { return &Codec{ring: r} }

// Encode encrypts each payload whole (metadata and data) with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.ring.keys[c.ring.Current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("unable to encode a payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(c.ring.Current),
				MetadataCipher:             []byte(cipherName),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.ring.Current)),
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload with the key its metadata names
// and passes others through unchanged (histories from before the codec).
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.ring.keys[id]
		if !ok {
			return payloads, fmt.Errorf("payload encrypted with codec key %q, which is not in this key ring "+
				"(keep retired keys in the ring, after the current one, while runs that used them exist)", id)
		}
		d := p.GetData()
		if len(d) < aead.NonceSize() {
			return payloads, fmt.Errorf("encrypted payload too short")
		}
		plain, err := aead.Open(nil, d[:aead.NonceSize()], d[aead.NonceSize():], []byte(id))
		if err != nil {
			return payloads, fmt.Errorf("unable to decrypt a payload with codec key %q: %w", id, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return payloads, fmt.Errorf("unable to decode a decrypted payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// DataConverter is the default converter with this codec on top.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter puts failure messages and stack traces into an encoded
// attribute, so they are encrypted too (Temporal stores failure messages in
// clear otherwise).
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          c.DataConverter(),
		EncodeCommonAttributes: true,
	})
}
