package limit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/plexusnet/plexus/bench/internal/harness"
)

// AEADRecord is the plaintext of one sealed record in the AEAD
// measurement: TLS's largest record.
const AEADRecord = 16 << 10

// RelayPasses is how many times AEAD runs over a byte of a secured
// relayed stream: it is sealed and opened on each of the two links and
// once more by the end-to-end session.
const RelayPasses = 6

// AEAD is what AES-128-GCM itself does on this machine, one core.
type AEAD struct {
	Seal, Open Figure // MB/s (10^6 bytes of plaintext) on one goroutine
	Procs      int    // GOMAXPROCS of the run
	Rounds     int
}

// MeasureAEAD measures sealing and opening rounds times (at least once),
// each over w, and returns the medians.
func MeasureAEAD(w harness.Window, rounds int) (AEAD, error) {
	var seals, opens []float64
	for range max(rounds, 1) {
		s, err := AEADThroughput(w, true)
		if err != nil {
			return AEAD{}, err
		}
		o, err := AEADThroughput(w, false)
		if err != nil {
			return AEAD{}, err
		}
		seals, opens = append(seals, s), append(opens, o)
	}
	return AEAD{Seal: figure(seals), Open: figure(opens), Procs: runtime.GOMAXPROCS(0), Rounds: max(rounds, 1)}, nil
}

// AEADThroughput returns the MB/s of plaintext that AES-128-GCM
// (crypto/cipher) seals, or else opens, in AEADRecord records on one
// goroutine, measured over w.
func AEADThroughput(w harness.Window, seal bool) (float64, error) {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return 0, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return 0, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return 0, err
	}
	nonce := make([]byte, gcm.NonceSize())
	plain := make([]byte, AEADRecord)
	ad := make([]byte, 5) // a TLS record header
	sealed := gcm.Seal(nil, nonce, plain, ad)
	out := make([]byte, 0, len(sealed))
	var cnt atomic.Uint64
	var stop atomic.Bool
	g := harness.NewGroup()
	g.Go(func() error {
		for seq := uint64(1); !stop.Load(); seq++ {
			if seal {
				binary.BigEndian.PutUint64(nonce[4:], seq) // a fresh nonce per record, as TLS
				out = gcm.Seal(out[:0], nonce, plain, ad)
			} else {
				var err error
				if out, err = gcm.Open(out[:0], nonce, sealed, ad); err != nil {
					return fmt.Errorf("AES-GCM open: %w", err)
				}
			}
			cnt.Add(AEADRecord)
		}
		return nil
	})
	s, err := harness.Measure(w, cnt.Load, g.Failed())
	stop.Store(true)
	g.Wait(10 * time.Second)
	if err != nil {
		return 0, err
	}
	return s.Rate() / 1e6, nil
}

// RelayBound is the MB/s a secured relayed stream could reach if AEAD
// were all the work: each byte takes RelayPasses passes, half seal and
// half open, spread over Procs cores.
func (a AEAD) RelayBound() float64 {
	if a.Seal.Median <= 0 || a.Open.Median <= 0 {
		return 0
	}
	half := float64(RelayPasses / 2)
	return float64(a.Procs) / (half/a.Seal.Median + half/a.Open.Median)
}

// Line says the AEAD figures and the bound they imply in one sentence.
func (a AEAD) Line() string {
	return fmt.Sprintf("AES-128-GCM (crypto/cipher, %s records) on one core seals **%.0f MB/s** (%.0f..%.0f) and opens **%.0f MB/s** (%.0f..%.0f) (median of %d); a relayed secured byte is sealed and opened three times (both links and the end-to-end session: %d AEAD passes), so the crypto alone bounds a relayed TLS stream at **%.0f MB/s** on %d cores (GOMAXPROCS).",
		SizeName(AEADRecord), a.Seal.Median, a.Seal.Lo, a.Seal.Hi, a.Open.Median, a.Open.Lo, a.Open.Hi, a.Rounds, RelayPasses, a.RelayBound(), a.Procs)
}
