package ews

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"time"
	"unicode/utf16"
)

// The server side of NTLMSSP (MS-NLMP): NEGOTIATE → CHALLENGE → AUTHENTICATE, NTLMv2 only
// (an NTLMv1 response is refused).

const (
	ntlmUnicode        = 0x00000001
	ntlmOEM            = 0x00000002
	ntlmRequestTarget  = 0x00000004
	ntlmNTLM           = 0x00000200
	ntlmAlwaysSign     = 0x00008000
	ntlmTargetDomain   = 0x00010000
	ntlmExtendedSecure = 0x00080000
	ntlmTargetInfo     = 0x00800000
	ntlmVersion        = 0x02000000
	ntlm128            = 0x20000000
	ntlm56             = 0x80000000
)

var ntlmSignature = []byte("NTLMSSP\x00")

// ntlmMessageType returns the type (1, 2 or 3) of an NTLMSSP message, 0 when msg is none.
func ntlmMessageType(msg []byte) uint32 {
	if len(msg) < 12 || !bytes.Equal(msg[:8], ntlmSignature) {
		return 0
	}
	return binary.LittleEndian.Uint32(msg[8:12])
}

// ntlmChallenge builds a CHALLENGE message for the NetBIOS domain and returns it with its
// server challenge.
func ntlmChallenge(domain, dnsDomain string) (msg []byte, challenge [8]byte) {
	_, _ = rand.Read(challenge[:])
	target := utf16le(domain)
	var info bytes.Buffer
	av := func(id uint16, v []byte) {
		_ = binary.Write(&info, binary.LittleEndian, id)
		_ = binary.Write(&info, binary.LittleEndian, uint16(len(v)))
		info.Write(v)
	}
	av(2, utf16le(domain))
	av(1, utf16le("EXCH01"))
	av(4, utf16le(dnsDomain))
	av(3, utf16le("exch01."+dnsDomain))
	var ts [8]byte
	binary.LittleEndian.PutUint64(ts[:], uint64(time.Now().UnixNano()/100)+116444736000000000)
	av(7, ts[:])
	av(0, nil)
	flags := uint32(ntlmUnicode | ntlmRequestTarget | ntlmNTLM | ntlmAlwaysSign | ntlmTargetDomain |
		ntlmExtendedSecure | ntlmTargetInfo | ntlmVersion | ntlm128 | ntlm56)
	const hdr = 56
	var b bytes.Buffer
	b.Write(ntlmSignature)
	_ = binary.Write(&b, binary.LittleEndian, uint32(2))
	field := func(n, off int) {
		_ = binary.Write(&b, binary.LittleEndian, uint16(n))
		_ = binary.Write(&b, binary.LittleEndian, uint16(n))
		_ = binary.Write(&b, binary.LittleEndian, uint32(off))
	}
	field(len(target), hdr)
	_ = binary.Write(&b, binary.LittleEndian, flags)
	b.Write(challenge[:])
	b.Write(make([]byte, 8))
	field(info.Len(), hdr+len(target))
	b.Write([]byte{10, 0, 0x63, 0x45, 0, 0, 0, 15}) // Windows 10.0.17763, NTLMSSP revision 15
	b.Write(target)
	b.Write(info.Bytes())
	return b.Bytes(), challenge
}

// ntlmAuth is the part of an AUTHENTICATE message the server checks.
type ntlmAuth struct {
	user, domain, workstation string
	nt                        []byte
}

var errNTLM = errors.New("malformed NTLM AUTHENTICATE message")

func parseNTLMAuth(msg []byte) (ntlmAuth, error) {
	var a ntlmAuth
	if ntlmMessageType(msg) != 3 || len(msg) < 64 {
		return a, errNTLM
	}
	field := func(at int) ([]byte, error) {
		n := int(binary.LittleEndian.Uint16(msg[at:]))
		off := int(binary.LittleEndian.Uint32(msg[at+4:]))
		if n == 0 {
			return nil, nil
		}
		if off < 0 || off > len(msg) || n > len(msg)-off {
			return nil, errNTLM
		}
		return msg[off : off+n], nil
	}
	flags := binary.LittleEndian.Uint32(msg[60:])
	str := func(b []byte) string {
		if flags&ntlmUnicode != 0 {
			return fromUTF16le(b)
		}
		return string(b)
	}
	var err error
	if a.nt, err = field(20); err != nil {
		return a, err
	}
	var d, u, w []byte
	if d, err = field(28); err != nil {
		return a, err
	}
	if u, err = field(36); err != nil {
		return a, err
	}
	if w, err = field(44); err != nil {
		return a, err
	}
	a.domain, a.user, a.workstation = str(d), str(u), str(w)
	return a, nil
}

// verifyNTLMv2 checks an NTLMv2 response against the password, per MS-NLMP 3.3.2:
// NTProofStr = HMAC_MD5(NTOWFv2(password, user, domain), ServerChallenge ‖ temp).
func verifyNTLMv2(a ntlmAuth, password string, challenge [8]byte) bool {
	if len(a.nt) <= 24 || a.user == "" { // 24 bytes or fewer: NTLMv1 or anonymous
		return false
	}
	proof, temp := a.nt[:16], a.nt[16:]
	key := ntowfv2(password, a.user, a.domain)
	m := hmac.New(md5.New, key)
	m.Write(challenge[:])
	m.Write(temp)
	return hmac.Equal(m.Sum(nil), proof)
}

// ntowfv2 is HMAC_MD5(MD4(UNICODE(password)), UNICODE(Uppercase(user) ‖ domain)).
func ntowfv2(password, user, domain string) []byte {
	h := md4Sum(utf16le(password))
	m := hmac.New(md5.New, h[:])
	m.Write(utf16le(strings.ToUpper(user) + domain))
	return m.Sum(nil)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func fromUTF16le(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// md4Sum is MD4 (RFC 1320), which NTLM's NT hash needs and the standard library lacks.
func md4Sum(data []byte) [16]byte {
	a0, b0, c0, d0 := uint32(0x67452301), uint32(0xefcdab89), uint32(0x98badcfe), uint32(0x10325476)
	msg := append([]byte(nil), data...)
	msg = append(msg, 0x80)
	for len(msg)%64 != 56 {
		msg = append(msg, 0)
	}
	msg = binary.LittleEndian.AppendUint64(msg, uint64(len(data))*8)
	var x [16]uint32
	for blk := 0; blk < len(msg); blk += 64 {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(msg[blk+4*i:])
		}
		a, b, c, d := a0, b0, c0, d0
		f := func(x, y, z uint32) uint32 { return x&y | ^x&z }
		g := func(x, y, z uint32) uint32 { return x&y | x&z | y&z }
		h := func(x, y, z uint32) uint32 { return x ^ y ^ z }
		r1 := [4]int{3, 7, 11, 19}
		for i := 0; i < 16; i++ {
			s := r1[i%4]
			switch i % 4 {
			case 0:
				a = bits.RotateLeft32(a+f(b, c, d)+x[i], s)
			case 1:
				d = bits.RotateLeft32(d+f(a, b, c)+x[i], s)
			case 2:
				c = bits.RotateLeft32(c+f(d, a, b)+x[i], s)
			case 3:
				b = bits.RotateLeft32(b+f(c, d, a)+x[i], s)
			}
		}
		r2 := [4]int{3, 5, 9, 13}
		for i := 0; i < 16; i++ {
			k := (i%4)*4 + i/4
			s := r2[i%4]
			const k2 = 0x5a827999
			switch i % 4 {
			case 0:
				a = bits.RotateLeft32(a+g(b, c, d)+x[k]+k2, s)
			case 1:
				d = bits.RotateLeft32(d+g(a, b, c)+x[k]+k2, s)
			case 2:
				c = bits.RotateLeft32(c+g(d, a, b)+x[k]+k2, s)
			case 3:
				b = bits.RotateLeft32(b+g(c, d, a)+x[k]+k2, s)
			}
		}
		r3 := [4]int{3, 9, 11, 15}
		order := [16]int{0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15}
		for i := 0; i < 16; i++ {
			k := order[i]
			s := r3[i%4]
			const k3 = 0x6ed9eba1
			switch i % 4 {
			case 0:
				a = bits.RotateLeft32(a+h(b, c, d)+x[k]+k3, s)
			case 1:
				d = bits.RotateLeft32(d+h(a, b, c)+x[k]+k3, s)
			case 2:
				c = bits.RotateLeft32(c+h(d, a, b)+x[k]+k3, s)
			case 3:
				b = bits.RotateLeft32(b+h(c, d, a)+x[k]+k3, s)
			}
		}
		a0 += a
		b0 += b
		c0 += c
		d0 += d
	}
	var out [16]byte
	binary.LittleEndian.PutUint32(out[0:], a0)
	binary.LittleEndian.PutUint32(out[4:], b0)
	binary.LittleEndian.PutUint32(out[8:], c0)
	binary.LittleEndian.PutUint32(out[12:], d0)
	return out
}
