package tenant

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

type person struct{ local, name, lang string }

var people = []person{
	{"alice", "Alice Martin", "en-US"},
	{"bob", "Bob Durand", "fr-FR"},
	{"elodie.lefevre", "Élodie Lefèvre", "fr-FR"},
	{"jurgen.gross", "Jürgen Groß", "en-US"},
	{"francois.dubois", "François Dubois", "fr-FR"},
	{"zoe.obrien", "Zoë O'Brien", "en-US"},
	{"sakura.tanaka", "田中 さくら", "en-US"},
	{"olga.ivanova", "Ольга Иванова", "en-US"},
	{"soren.nielsen", "Søren Nielsen", "en-US"},
	{"jose.garcia", "José García", "fr-FR"},
	{"anais.moreau", "Anaïs Moreau", "fr-FR"},
	{"noel.lemaitre", "Noël Lemaître", "fr-FR"},
}

var externals = []Address{
	{"Camille Bernard", "camille.bernard@exemple.fr"},
	{"Thomas Petit", "t.petit@fournisseur.example"},
	{"Sophie Laurent", "sophie.laurent@cabinet-laurent.example"},
	{"John Carter", "jcarter@partner.example"},
	{"佐藤 博", "sato@example.jp"},
	{"Дмитрий Смирнов", "dmitri@example.ru"},
	{"Boutique en ligne", "newsletter@shop.example"},
	{"Hélène Girard", "helene.girard@mairie.example"},
}

const domain = "contoso.example"

var wellKnownNames = []struct{ wk, en, fr string }{
	{"inbox", "Inbox", "Boîte de réception"},
	{"sentitems", "Sent Items", "Éléments envoyés"},
	{"drafts", "Drafts", "Brouillons"},
	{"deleteditems", "Deleted Items", "Éléments supprimés"},
	{"junkemail", "Junk Email", "Courrier indésirable"},
	{"archive", "Archive", "Archive"},
	{"outbox", "Outbox", "Boîte d'envoi"},
}

// userFolders are the user-made folders: parent ("" top level, or a well-known name, or an
// earlier entry's path) and display name.
var userFolders = []struct{ parent, name string }{
	{"", "Projets"},
	{"Projets", "Été 2024"},
	{"Projets/Été 2024", "Réunions"},
	{"inbox", "Clients & Partenaires"},
	{"", "日本語"},
	{"inbox", "Ünïcödé"},
	{"", "A/B tests"},
}

var sharedFolders = []struct{ parent, name string }{
	{"inbox", "Demandes"},
	{"inbox/Demandes", "Traitées"},
}

// folderWeight is how many messages a folder draws, relatively.
func folderWeight(f *Folder) int {
	switch f.WellKnown {
	case "inbox":
		return 40
	case "sentitems":
		return 14
	case "archive":
		return 10
	case "deleteditems":
		return 5
	case "junkemail":
		return 3
	case "drafts":
		return 2
	case "outbox":
		return 0
	}
	return 5
}

// Generate builds the tenant described by cfg. The same cfg always yields the same tenant.
// Users < 2 counts as 2; MaxAttachment 0 as 2 MiB.
func Generate(cfg Config) *Tenant {
	if cfg.Users < 2 {
		cfg.Users = 2
	}
	if cfg.MaxAttachment <= 0 {
		cfg.MaxAttachment = 2 << 20
	}
	if cfg.MaxAttachment < 2048 {
		cfg.MaxAttachment = 2048
	}
	cfg.Messages = max(cfg.Messages, 0)
	cfg.Events, cfg.Contacts, cfg.Tasks = max(cfg.Events, 0), max(cfg.Contacts, 0), max(cfg.Tasks, 0)
	cfg.LargeMessages = min(max(cfg.LargeMessages, 0), cfg.Messages)
	t := &Tenant{cfg: cfg, id: guid(cfg.Seed, "tenant"), byID: map[string]*mailbox{}, byName: map[string]*mailbox{}}
	for i := range cfg.Users {
		p := people[i%len(people)]
		local := p.local
		if i >= len(people) {
			local = p.local + string(rune('0'+(i/len(people))%10)) + string(rune('0'+i%10))
		}
		if i >= 10*len(people) {
			// Beyond 120 users the two digits above repeat: the whole index keeps UPNs unique.
			local = p.local + strconv.Itoa(i)
		}
		t.addBox(User{UPN: local + "@" + domain, DisplayName: p.name, Purpose: "user", Language: p.lang})
	}
	t.addBox(User{UPN: "accueil@" + domain, DisplayName: "Accueil", Purpose: "shared", Language: "fr-FR"})

	// Spread messages unevenly: weights 6, 4, 3, 2, 2, ... and 3 for the shared mailbox.
	weights := make([]int, len(t.boxes))
	total := 0
	for i := range weights {
		switch {
		case i == len(weights)-1:
			weights[i] = 3
		case i == 0:
			weights[i] = 6
		case i == 1:
			weights[i] = 4
		case i == 2:
			weights[i] = 3
		default:
			weights[i] = 2
		}
		total += weights[i]
	}
	counts := make([]int, len(t.boxes))
	left := cfg.Messages
	for i := range counts {
		counts[i] = cfg.Messages * weights[i] / total
		left -= counts[i]
	}
	counts[0] += left

	large := map[int]bool{}
	for j := range cfg.LargeMessages {
		large[(j*cfg.Messages)/cfg.LargeMessages+cfg.Messages/(2*cfg.LargeMessages)] = true
	}

	g := newGen(cfg, t.id)
	type job struct {
		b    *mailbox
		f    *Folder
		sp   *spec
		meta Message
		size int64
		sum  string
	}
	jobs := make([]*job, 0, cfg.Messages)
	k := 0
	base := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	span := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC).Unix() - base
	for bi, b := range t.boxes {
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(bi)+0xf01d))
		var pool []*Folder
		var cum []int
		sum := 0
		for _, f := range b.folders {
			if w := folderWeight(f); w > 0 {
				sum += w
				pool = append(pool, f)
				cum = append(cum, sum)
			}
		}
		for n := range counts[bi] {
			x := rng.IntN(sum)
			fi := 0
			for cum[fi] <= x {
				fi++
			}
			f := pool[fi]
			recv := time.Unix(base+rng.Int64N(span), 0).UTC()
			sp, meta := g.newSpec(b, f, n+1, recv, large[k], k)
			jobs = append(jobs, &job{b: b, f: f, sp: sp, meta: meta})
			k++
		}
		b.nextIdx = counts[bi]
	}

	// Render every message once to learn its size and SHA-256, in parallel.
	var wg sync.WaitGroup
	next := make(chan *job)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range next {
				j.size, j.sum = hashSpec(j.sp)
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	counter := map[*mailbox]int{}
	for _, j := range jobs {
		counter[j.b]++
		j.meta.ID = itemID(cfg.Seed, j.b.index, "m", counter[j.b])
		j.meta.FolderID = j.f.ID
		j.meta.Size, j.meta.SHA256 = j.size, j.sum
		m := &msg{Message: j.meta, spec: j.sp}
		t.seq++
		m.Seq = t.seq
		m.ChangeKey = changeKey(t.seq)
		j.b.msgs = append(j.b.msgs, m)
		j.b.mByID[m.ID] = m
	}
	// Groupware last, so that mail ids, sequence numbers and change keys stay what they were.
	for _, b := range t.boxes {
		t.genGroupware(b)
	}
	// Settings and permissions last: they draw no change-log position.
	t.genSettings()
	return t
}

func (t *Tenant) addBox(u User) {
	idx := len(t.boxes)
	u.ID = guid(t.cfg.Seed, "user/"+u.UPN)
	u.Mail = u.UPN
	b := &mailbox{index: idx, user: u, lang: u.Language, fByID: map[string]*Folder{}, mByID: map[string]*msg{}, tombs: map[string][]tomb{}}
	fn := 0
	mk := func(parent, name, wk string) *Folder {
		fn++
		t.seq++
		f := &Folder{ID: itemID(t.cfg.Seed, idx, "f", fn), ParentID: parent, DisplayName: name, WellKnown: wk, Seq: t.seq}
		b.fByID[f.ID] = f
		return f
	}
	root := mk("", "Top of Information Store", "msgfolderroot")
	b.root = root.ID
	t.seq-- // the root is not part of any delta
	root.Seq = 0
	paths := map[string]*Folder{}
	for _, w := range wellKnownNames {
		name := w.en
		if u.Language == "fr-FR" {
			name = w.fr
		}
		f := mk(root.ID, name, w.wk)
		b.folders = append(b.folders, f)
		paths[w.wk] = f
	}
	list := userFolders
	if u.Purpose == "shared" {
		list = sharedFolders
	}
	for _, uf := range list {
		parent := root.ID
		if uf.parent != "" {
			parent = paths[uf.parent].ID
		}
		f := mk(parent, uf.name, "")
		b.folders = append(b.folders, f)
		key := uf.name
		if uf.parent != "" {
			key = uf.parent + "/" + uf.name
		}
		paths[key] = f
	}
	t.boxes = append(t.boxes, b)
	t.byID[u.ID] = b
	t.byName[strings.ToLower(u.UPN)] = b
}
