package tenant

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

// Body kinds.
const (
	kindPlain  = iota // text/plain utf-8 quoted-printable
	kindHTML          // text/html utf-8 quoted-printable
	kindAlt           // multipart/alternative
	kindMixed         // multipart/mixed with attachments
	kindLatin1        // text/plain iso-8859-1
	kindCP1252        // text/plain windows-1252 8bit
	kindJIS           // text/plain iso-2022-jp 7bit
	kindKOI8          // text/plain koi8-r 8bit
	nKinds
)

// Quirks: malformed-but-real traits.
const (
	qNoMIMEVersion = 1 << iota
	qRaw8bitSubject
	qGarbageWord
	qLongFolded
	qDupHeaders
	qNoMessageID
	qNoCloseBoundary
	qSharedMessageID
	nQuirks = 8
)

type att struct {
	name, ctype string
	size        int64
	seed        uint64
}

// spec is everything needed to render one message again, byte for byte.
type spec struct {
	raw     []byte // AddRawMessage: the bytes as given
	seed    uint64
	kind    int
	quirks  int
	lang    string // en, fr, ja, ru
	userLng string
	from    Address
	to      []Address
	subject string
	date    time.Time
	msgID   string
	replyTo string
	atts    []att
}

type gen struct {
	cfg    Config
	tenant string
	mu     sync.Mutex
	lastID string
}

func newGen(cfg Config, tenantID string) *gen { return &gen{cfg: cfg, tenant: tenantID} }

var subjects = map[string][]string{
	"en": {"Quarterly report", "Re: Lunch on Friday", "Invoice %d", "Meeting notes", "Fwd: Contract draft", "Your order #%d has shipped", "Budget review", "Re: Re: Offsite agenda"},
	"fr": {"Compte rendu - réunion d'équipe", "Facture n° %d", "Congés d'été", "Re: Déjeuner vendredi", "Projet Été 2024 : planning", "Devis n° %d à valider", "Réunion de rentrée", "TR: Procès-verbal de l'AG"},
	"ja": {"会議資料の送付", "日程調整のお願い", "Re: 見積書について", "第%d四半期の報告"},
	"ru": {"Отчёт за квартал", "Встреча в пятницу", "Счёт № %d", "Re: Договор поставки"},
}

var sentences = map[string][]string{
	"en": {"Hi all,", "Please find the minutes of Tuesday's meeting below.", "Could you review the attached document before Friday?", "The team lunch will take place at the bistro near the station.", "Let me know if you have any questions.", "We received invoice 2024-117; it has been paid.", "Summer holidays must be booked before May 15.", "Thanks again for your help with the migration.", "Best regards,"},
	"fr": {"Bonjour à tous,", "Voici le compte rendu de la réunion de mardi.", "Merci de relire le document ci-joint avant vendredi.", "Le déjeuner d'équipe aura lieu à la brasserie près de la gare.", "N'hésitez pas à me contacter si vous avez des questions.", "Nous avons reçu la facture n° 2024-117 ; elle est réglée.", "Les congés d'été doivent être posés avant le 15 mai.", "Ça avance bien côté équipe, même si le planning reste serré.", "Cordialement,"},
	"ja": {"お世話になっております。", "来週の会議の資料を添付いたします。", "ご確認のほど、よろしくお願いいたします。", "日程の調整をお願いできますでしょうか。", "引き続きよろしくお願いいたします。"},
	"ru": {"Добрый день!", "Высылаю отчёт за третий квартал.", "Пожалуйста, проверьте цифры до пятницы.", "Встреча переносится на следующую неделю.", "С уважением,"},
}

var cp1252Extra = "Le devis s’élève à 1 250 € HT – œuvre complète, « clés en main »."

var attNames = map[string][]string{
	"en": {"report.pdf", "budget 2024.xlsx", "IMG_0042.jpg", "contract.docx", "notes.txt"},
	"fr": {"Compte-rendu réunion.pdf", "données_2024.xlsx", "photo équipe.jpg", "contrat signé.docx", "notes.txt"},
}

func ctypeFor(name string) string {
	switch {
	case strings.HasSuffix(name, ".pdf"):
		return "application/pdf"
	case strings.HasSuffix(name, ".xlsx"):
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case strings.HasSuffix(name, ".docx"):
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case strings.HasSuffix(name, ".jpg"):
		return "image/jpeg"
	case strings.HasSuffix(name, ".mp4"):
		return "video/mp4"
	case strings.HasSuffix(name, ".zip"):
		return "application/zip"
	}
	return "application/octet-stream"
}

// newSpec draws one generated message for folder f of mailbox b. n numbers the message in its
// mailbox; k (>= 0) is its index in the tenant, used to make sure every body kind and quirk
// shows up in small tenants.
func (g *gen) newSpec(b *mailbox, f *Folder, n int, received time.Time, large bool, k int) (*spec, Message) {
	rng := rand.New(rand.NewPCG(uint64(g.cfg.Seed), uint64(b.index)<<40|uint64(n)))
	sp := &spec{seed: rng.Uint64(), userLng: b.lang}
	// Kind.
	sp.kind = []int{kindPlain, kindPlain, kindPlain, kindHTML, kindHTML, kindAlt, kindAlt, kindAlt, kindAlt, kindMixed, kindMixed, kindMixed, kindLatin1, kindLatin1, kindCP1252, kindJIS, kindKOI8}[rng.IntN(17)]
	if k >= 0 && k < 2*nKinds {
		sp.kind = k % nKinds
	}
	if large {
		sp.kind = kindMixed
	}
	// Quirks: each with a small probability, and every one at least once in each 40 messages.
	probs := [nQuirks]float64{0.02, 0.02, 0.015, 0.04, 0.03, 0.015, 0.03, 0.01}
	for q := range nQuirks {
		if rng.Float64() < probs[q] {
			sp.quirks |= 1 << q
		}
	}
	if k >= 0 && k%40 < nQuirks {
		sp.quirks |= 1 << (k % 40)
	}
	multipart := sp.kind == kindAlt || sp.kind == kindMixed
	if !multipart {
		if k >= 0 && k%40 == 6 {
			sp.kind = kindAlt
		} else {
			sp.quirks &^= qNoCloseBoundary
		}
	}
	switch sp.kind {
	case kindLatin1, kindCP1252:
		sp.lang = "fr"
	case kindJIS:
		sp.lang = "ja"
	case kindKOI8:
		sp.lang = "ru"
	default:
		sp.lang = "en"
		if b.lang == "fr-FR" {
			sp.lang = "fr"
		}
	}
	if sp.quirks&qRaw8bitSubject != 0 {
		sp.lang = "fr"
		if sp.kind == kindJIS || sp.kind == kindKOI8 {
			sp.kind = kindLatin1
		}
	}
	// Subject.
	list := subjects[sp.lang]
	subj := list[rng.IntN(len(list))]
	if strings.Contains(subj, "%d") {
		subj = fmt.Sprintf(subj, 1000+rng.IntN(9000))
	}
	if sp.quirks&qRaw8bitSubject != 0 {
		subj = "Réunion prévue à côté du café"
	}
	sp.subject = subj
	// People.
	me := Address{b.user.DisplayName, b.user.Mail}
	ext := externals[rng.IntN(len(externals))]
	switch f.WellKnown {
	case "sentitems", "drafts", "outbox":
		sp.from, sp.to = me, []Address{ext}
	default:
		sp.from, sp.to = ext, []Address{me}
	}
	if rng.IntN(4) == 0 {
		sp.to = append(sp.to, externals[rng.IntN(len(externals))])
	}
	// Dates: Date header in the sender's zone, a little before reception.
	zone := time.FixedZone("", 3600)
	if m := received.Month(); m > 3 && m < 11 {
		zone = time.FixedZone("", 7200)
	}
	if sp.lang == "en" {
		zone = time.FixedZone("", -5*3600)
	}
	sp.date = received.Add(-time.Duration(1+rng.IntN(90)) * time.Second).In(zone)
	// Message-ID.
	g.mu.Lock()
	switch {
	case sp.quirks&qNoMessageID != 0:
	case sp.quirks&qSharedMessageID != 0 && g.lastID != "":
		sp.msgID = g.lastID
	default:
		sp.msgID = fmt.Sprintf("<%s%016X@%s>", []string{"AM0PR01MB", "PAXPR08MB", "DB9PR02MB"}[rng.IntN(3)], rng.Uint64(), "eurprd01.prod.exchangelabs.com")
		if sp.from.Address != me.Address {
			sp.msgID = fmt.Sprintf("<%x.%d@%s>", rng.Uint64(), rng.IntN(100000), sp.from.Address[strings.IndexByte(sp.from.Address, '@')+1:])
		}
		g.lastID = sp.msgID
	}
	g.mu.Unlock()
	if strings.HasPrefix(sp.subject, "Re:") {
		sp.replyTo = fmt.Sprintf("<%x@%s>", rng.Uint64(), domain)
	}
	// Attachments.
	if sp.kind == kindMixed {
		names := attNames["en"]
		if sp.lang == "fr" {
			names = attNames["fr"]
		}
		na := 1 + rng.IntN(3)
		if large {
			na = 1
		}
		for i := range na {
			a := att{name: names[(rng.IntN(len(names))+i)%len(names)], seed: rng.Uint64()}
			if large {
				a.name = []string{"video-chantier.mp4", "sauvegarde.zip"}[rng.IntN(2)]
				a.size = 20<<20 + rng.Int64N(10<<20)
			} else {
				// 1 KB .. MaxAttachment, most of them small.
				u := rng.Float64()
				ratio := float64(g.cfg.MaxAttachment) / 1024
				a.size = int64(1024 * pow(ratio, u*u*u))
				a.size = min(max(a.size, 1024), g.cfg.MaxAttachment)
			}
			a.ctype = ctypeFor(a.name)
			sp.atts = append(sp.atts, a)
		}
	}
	meta := Message{
		Subject:           sp.subject,
		InternetMessageID: sp.msgID,
		Received:          received,
		Sent:              sp.date.UTC(),
		Modified:          received,
		IsDraft:           f.WellKnown == "drafts",
		From:              sp.from,
		To:                sp.to,
		HasAttachments:    len(sp.atts) > 0,
		Preview:           preview(sp.text()),
		Flag:              "notFlagged",
	}
	if sp.quirks&qGarbageWord != 0 {
		meta.Subject = "=?utf-8?B?broken " + sp.subject
	}
	meta.IsRead = meta.IsDraft || rng.IntN(100) < 70
	switch x := rng.IntN(100); {
	case x < 10:
		meta.Flag = "flagged"
	case x < 15:
		meta.Flag = "complete"
	}
	if f.WellKnown == "inbox" || f.WellKnown == "archive" || f.ParentID != b.root {
		switch x := rng.IntN(100); {
		case x < 15:
			meta.LastVerb = 102
		case x < 22:
			meta.LastVerb = 103
		case x < 30:
			meta.LastVerb = 104
		}
	}
	return sp, meta
}

func pow(x, y float64) float64 { return math.Pow(x, y) }

func preview(text string) string {
	s := strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(s) > 255 {
		r := []rune(s)
		s = string(r[:255])
	}
	return s
}

// text is the message's plain text, CRLF line endings, lines of at most 76 characters.
func (sp *spec) text() string {
	rng := rand.New(rand.NewPCG(sp.seed, 1))
	ss := sentences[sp.lang]
	var b strings.Builder
	paras := 2 + rng.IntN(4)
	for p := range paras {
		var para []string
		for range 1 + rng.IntN(4) {
			para = append(para, ss[rng.IntN(len(ss))])
		}
		if p == 0 && sp.kind == kindCP1252 {
			para = append(para, cp1252Extra)
		}
		b.WriteString(wrap(strings.Join(para, " "), 72, sp.lang == "ja"))
		b.WriteString("\r\n")
	}
	return b.String()
}

// wrap breaks s into CRLF-terminated lines of at most width runes (by words, or by runes for
// scripts without spaces).
func wrap(s string, width int, runes bool) string {
	var b strings.Builder
	if runes {
		r := []rune(s)
		for len(r) > 0 {
			n := min(len(r), width/2)
			b.WriteString(string(r[:n]))
			b.WriteString("\r\n")
			r = r[n:]
		}
		return b.String()
	}
	col := 0
	for i, w := range strings.Fields(s) {
		n := utf8.RuneCountInString(w)
		if i > 0 && col+1+n > width {
			b.WriteString("\r\n")
			col = 0
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	b.WriteString("\r\n")
	return b.String()
}

func (sp *spec) html() string {
	var b strings.Builder
	b.WriteString("<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n<div dir=\"ltr\" style=\"font-family: Calibri, Arial, sans-serif; font-size: 11pt;\">\r\n")
	for _, p := range strings.Split(strings.TrimRight(sp.text(), "\r\n"), "\r\n\r\n") {
		b.WriteString("<p>")
		b.WriteString(html.EscapeString(strings.ReplaceAll(p, "\r\n", " ")))
		b.WriteString("</p>\r\n")
	}
	b.WriteString("</div>\r\n</body>\r\n</html>\r\n")
	return b.String()
}

func charsetOf(kind int) (string, encoding.Encoding) {
	switch kind {
	case kindLatin1:
		return "iso-8859-1", charmap.ISO8859_1
	case kindCP1252:
		return "windows-1252", charmap.Windows1252
	case kindJIS:
		return "iso-2022-jp", japanese.ISO2022JP
	case kindKOI8:
		return "koi8-r", charmap.KOI8R
	}
	return "utf-8", nil
}

func encode(enc encoding.Encoding, s string) []byte {
	if enc == nil {
		return []byte(s)
	}
	out, err := encoding.ReplaceUnsupported(enc.NewEncoder()).Bytes([]byte(s))
	if err != nil {
		return []byte(s)
	}
	return out
}

func addr(a Address) string { return (&mail.Address{Name: a.Name, Address: a.Address}).String() }

func addrs(as []Address) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, addr(a))
	}
	return strings.Join(parts, ",\r\n\t")
}

func (sp *spec) boundary(n int) string {
	return fmt.Sprintf("_%03d_PAXPR08MB%012X%03d_", n, sp.seed&0xffffffffffff, n)
}

// render writes the message's exact bytes to w.
func (sp *spec) render(w io.Writer) error {
	if sp.raw != nil {
		_, err := w.Write(sp.raw)
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	rng := rand.New(rand.NewPCG(sp.seed, 2))
	h := func(name, value string) { bw.WriteString(name + ": " + value + "\r\n") }
	host := fmt.Sprintf("PAXPR08MB%04X.eurprd08.prod.outlook.com", rng.IntN(0x10000))
	h("Received", fmt.Sprintf("from %s (2603:10a6:102:%x::%x) by\r\n %s with HTTPS; %s", host, rng.IntN(0xfff), rng.IntN(0xff), host, sp.date.UTC().Add(3*time.Second).Format(time.RFC1123Z)))
	h("Received", fmt.Sprintf("from %s\r\n ([fe80::%x:%x:%x:%x]) by %s\r\n ([fe80::%x%%5]) with mapi id 15.20.%d.%03d; %s", host, rng.IntN(0xffff), rng.IntN(0xffff), rng.IntN(0xffff), rng.IntN(0xffff), host, rng.IntN(0xffff), 7000+rng.IntN(999), rng.IntN(999), sp.date.UTC().Add(time.Second).Format(time.RFC1123Z)))
	if sp.quirks&qGarbageWord != 0 {
		h("From", "=?utf-8?B?broken <"+sp.from.Address+">")
	} else {
		h("From", addr(sp.from))
	}
	h("To", addrs(sp.to))
	if sp.quirks&qDupHeaders != 0 {
		h("To", addr(sp.to[0]))
		h("X-Mailer", "Microsoft Outlook 16.0")
		h("X-Mailer", "Microsoft Outlook 16.0")
	}
	// Subject.
	charset, enc := charsetOf(sp.kind)
	switch {
	case sp.quirks&qRaw8bitSubject != 0:
		h("Subject", string(encode(charmap.ISO8859_1, sp.subject)))
	case sp.quirks&qGarbageWord != 0:
		h("Subject", "=?utf-8?B?broken "+mime.QEncoding.Encode("utf-8", sp.subject))
	case sp.kind == kindJIS || sp.kind == kindKOI8:
		h("Subject", "=?"+strings.ToUpper(charset)+"?B?"+base64.StdEncoding.EncodeToString(encode(enc, sp.subject))+"?=")
	case sp.kind == kindLatin1:
		h("Subject", mime.QEncoding.Encode(charset, string(encode(enc, sp.subject))))
	default:
		h("Subject", mime.QEncoding.Encode("utf-8", sp.subject))
	}
	h("Thread-Topic", mime.QEncoding.Encode("utf-8", strings.TrimPrefix(strings.TrimPrefix(sp.subject, "Re: "), "TR: ")))
	ti := make([]byte, 22)
	for i := range ti {
		ti[i] = byte(rng.IntN(256))
	}
	h("Thread-Index", base64.StdEncoding.EncodeToString(ti))
	h("Date", sp.date.Format(time.RFC1123Z))
	if sp.msgID != "" {
		h("Message-ID", sp.msgID)
	}
	if sp.replyTo != "" {
		h("In-Reply-To", sp.replyTo)
	}
	if sp.quirks&qLongFolded != 0 {
		var refs []string
		for range 24 {
			refs = append(refs, fmt.Sprintf("<%x.%x@mail.example.net>", rng.Uint64(), rng.Uint32()))
		}
		h("References", strings.Join(refs, "\r\n "))
		var long []string
		for range 40 {
			long = append(long, fmt.Sprintf("tag%d=%x", rng.IntN(100), rng.Uint32()))
		}
		h("X-Long-Header", strings.Join(long, "; "))
	}
	if sp.lang == "fr" {
		h("Content-Language", "fr-FR")
	} else if sp.lang == "en" {
		h("Content-Language", "en-US")
	}
	if len(sp.atts) > 0 {
		h("X-MS-Has-Attach", "yes")
	} else {
		h("X-MS-Has-Attach", "")
	}
	h("X-MS-TNEF-Correlator", "")
	if sp.quirks&qNoMIMEVersion == 0 {
		h("MIME-Version", "1.0")
	}
	var err error
	switch sp.kind {
	case kindAlt:
		err = sp.writeAlt(bw, 0, true)
	case kindMixed:
		b := sp.boundary(4)
		h("Content-Type", "multipart/mixed;\r\n\tboundary=\""+b+"\"")
		bw.WriteString("\r\n--" + b + "\r\n")
		if err = sp.writeAlt(bw, 0, false); err != nil {
			break
		}
		for _, a := range sp.atts {
			bw.WriteString("\r\n--" + b + "\r\n")
			if err = sp.writeAttachment(bw, a); err != nil {
				break
			}
		}
		if sp.quirks&qNoCloseBoundary == 0 {
			bw.WriteString("\r\n--" + b + "--\r\n")
		}
	case kindHTML:
		h("Content-Type", "text/html; charset=\"utf-8\"")
		h("Content-Transfer-Encoding", "quoted-printable")
		bw.WriteString("\r\n")
		err = writeQP(bw, []byte(sp.html()))
	case kindPlain:
		h("Content-Type", "text/plain; charset=\"utf-8\"")
		h("Content-Transfer-Encoding", "quoted-printable")
		bw.WriteString("\r\n")
		err = writeQP(bw, []byte(sp.text()))
	case kindLatin1:
		h("Content-Type", "text/plain; charset=\"iso-8859-1\"")
		if sp.seed%2 == 0 {
			h("Content-Transfer-Encoding", "quoted-printable")
			bw.WriteString("\r\n")
			err = writeQP(bw, encode(enc, sp.text()))
		} else {
			h("Content-Transfer-Encoding", "8bit")
			bw.WriteString("\r\n")
			bw.Write(encode(enc, sp.text()))
		}
	case kindCP1252, kindKOI8:
		h("Content-Type", "text/plain; charset=\""+charset+"\"")
		h("Content-Transfer-Encoding", "8bit")
		bw.WriteString("\r\n")
		bw.Write(encode(enc, sp.text()))
	case kindJIS:
		h("Content-Type", "text/plain; charset=\"iso-2022-jp\"")
		h("Content-Transfer-Encoding", "7bit")
		bw.WriteString("\r\n")
		bw.Write(encode(enc, sp.text()))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// writeAlt writes a multipart/alternative entity (its header too when top is false, the
// message's Content-Type when top is true).
func (sp *spec) writeAlt(bw *bufio.Writer, n int, top bool) error {
	b := sp.boundary(n)
	bw.WriteString("Content-Type: multipart/alternative;\r\n\tboundary=\"" + b + "\"\r\n")
	bw.WriteString("\r\n--" + b + "\r\n")
	bw.WriteString("Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	if err := writeQP(bw, []byte(sp.text())); err != nil {
		return err
	}
	bw.WriteString("\r\n--" + b + "\r\n")
	bw.WriteString("Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	if err := writeQP(bw, []byte(sp.html())); err != nil {
		return err
	}
	if top && sp.quirks&qNoCloseBoundary != 0 {
		return nil
	}
	bw.WriteString("\r\n--" + b + "--\r\n")
	return nil
}

func (sp *spec) writeAttachment(bw *bufio.Writer, a att) error {
	name := a.name
	for _, r := range name {
		if r >= 0x80 {
			name = mime.BEncoding.Encode("utf-8", a.name)
			break
		}
	}
	bw.WriteString("Content-Type: " + a.ctype + "; name=\"" + name + "\"\r\n")
	bw.WriteString("Content-Description: " + name + "\r\n")
	bw.WriteString(fmt.Sprintf("Content-Disposition: attachment; filename=\"%s\"; size=%d;\r\n\tcreation-date=\"%s\";\r\n\tmodification-date=\"%s\"\r\n",
		name, a.size, sp.date.UTC().Format(time.RFC1123), sp.date.UTC().Format(time.RFC1123)))
	bw.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], a.seed)
	binary.LittleEndian.PutUint64(seed[8:], sp.seed)
	src := rand.NewChaCha8(seed)
	lw := &lineWrap{w: bw}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	buf := make([]byte, 48<<10)
	left := a.size
	for left > 0 {
		n := min(int64(len(buf)), left)
		src.Read(buf[:n])
		if _, err := enc.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if lw.col > 0 {
		bw.WriteString("\r\n")
	}
	return nil
}

// lineWrap breaks a base64 stream into CRLF-terminated lines of 76 characters.
type lineWrap struct {
	w   *bufio.Writer
	col int
}

func (l *lineWrap) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		c := min(76-l.col, len(p))
		l.w.Write(p[:c])
		l.col += c
		p = p[c:]
		if l.col == 76 {
			l.w.WriteString("\r\n")
			l.col = 0
		}
	}
	return n, nil
}

func writeQP(w io.Writer, b []byte) error {
	qw := quotedprintable.NewWriter(w)
	if _, err := qw.Write(b); err != nil {
		return err
	}
	return qw.Close()
}

type countHash struct {
	n int64
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (c *countHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// hashSpec renders a message once and returns its size and hex SHA-256.
func hashSpec(sp *spec) (int64, string) {
	c := &countHash{h: sha256.New()}
	if err := sp.render(c); err != nil {
		panic("tenant: rendering a generated message: " + err.Error())
	}
	return c.n, hex.EncodeToString(c.h.Sum(nil))
}

// rawMeta reads what Graph would show of raw message bytes given by AddRawMessage.
func rawMeta(raw []byte, received time.Time) Message {
	m := Message{Received: received, Sent: received, Modified: received, Flag: "notFlagged"}
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head = raw[:i]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		head = raw[:i]
	}
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	var fields [][2]string
	for _, l := range lines {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(fields) > 0 {
			fields[len(fields)-1][1] += " " + strings.TrimSpace(l)
			continue
		}
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields = append(fields, [2]string{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)})
		}
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	text := func(v string) string {
		if s, err := dec.DecodeHeader(v); err == nil {
			v = s
		}
		if !utf8.ValidString(v) {
			v, _ = charmap.ISO8859_1.NewDecoder().String(v)
		}
		return v
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		switch f[0] {
		case "subject":
			m.Subject = text(f[1])
		case "message-id":
			m.InternetMessageID = f[1]
		case "from":
			if a, err := mail.ParseAddress(f[1]); err == nil {
				m.From = Address{a.Name, a.Address}
			} else {
				m.From = Address{Address: text(f[1])}
			}
		case "to":
			if as, err := mail.ParseAddressList(f[1]); err == nil {
				for _, a := range as {
					m.To = append(m.To, Address{a.Name, a.Address})
				}
			}
		case "date":
			if d, err := mail.ParseDate(f[1]); err == nil {
				m.Sent = d.UTC()
			}
		}
	}
	body := ""
	if len(head) < len(raw) {
		body = string(raw[len(head):])
	}
	if len(body) > 2000 {
		body = body[:2000]
	}
	m.Preview = preview(strings.ToValidUTF8(body, ""))
	return m
}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1":
		return charmap.ISO8859_1.NewDecoder().Reader(r), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(r), nil
	case "koi8-r":
		return charmap.KOI8R.NewDecoder().Reader(r), nil
	case "iso-2022-jp":
		return japanese.ISO2022JP.NewDecoder().Reader(r), nil
	}
	return nil, fmt.Errorf("unknown charset %q", charset)
}
