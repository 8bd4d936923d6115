package kandjitest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// platformDefaults gives a model and OS version to devices added without one.
func platformDefaults(platform string) (model, osVersion string) {
	switch strings.ToLower(platform) {
	case "iphone":
		return "iPhone 15", "17.5.1"
	case "ipad":
		return "iPad Air (5th generation)", "17.5.1"
	case "appletv":
		return "Apple TV 4K (3rd generation)", "17.5"
	}
	return "MacBook Pro (14-inch, 2023)", "14.5"
}

// withDefaults fills the empty fields of d deterministically; s.mu is held.
func (s *Server) withDefaults(d Device) Device {
	s.seq++
	if d.ID == "" {
		d.ID = fakeUUID("device", fmt.Sprint(s.seq))
	}
	if d.Serial == "" {
		d.Serial = fmt.Sprintf("FAKE%08d", s.seq)
	}
	if d.Platform == "" {
		d.Platform = "Mac"
	}
	model, osVersion := platformDefaults(d.Platform)
	if d.Model == "" {
		d.Model = model
	}
	if d.OSVersion == "" {
		d.OSVersion = osVersion
	}
	if d.Name == "" {
		d.Name = d.Platform + " " + d.Serial
	}
	if d.UserEmail != "" && d.UserID == "" {
		d.UserID = fakeUUID("user", asciiLower(strings.TrimSpace(d.UserEmail)))
	}
	return d
}

// fakeUUID derives a UUID-shaped ID from kind and key, so generated tenants are the same on every
// run.
func fakeUUID(kind, key string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + key))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Populate adds people × devicesPerPerson devices (Mac, iPhone and iPad in turn, deterministic
// names and serials, last check-ins in both of Kandji's timestamp styles) and returns the people's
// emails, person00001@domain onwards. Later calls continue the numbering. It is meant for tests
// and benchmarks of big tenants.
func (s *Server) Populate(people, devicesPerPerson int, domain string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	platforms := [...]string{"Mac", "iPhone", "iPad"}
	base := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	emails := make([]string, 0, max(people, 0))
	var ds []Device
	for range max(people, 0) {
		s.people++
		email := fmt.Sprintf("person%05d@%s", s.people, domain)
		name := fmt.Sprintf("Person %05d", s.people)
		emails = append(emails, email)
		for j := range max(devicesPerPerson, 0) {
			platform := platforms[j%len(platforms)]
			seen := base.Add(time.Duration(len(ds)+s.seq) * time.Minute)
			checkIn := seen.Format("2006-01-02T15:04:05.000000Z")
			if j%2 == 1 {
				checkIn = seen.Format("2006-01-02 15:04:05.000000-07:00")
			}
			ds = append(ds, Device{
				Name:        fmt.Sprintf("%s's %s", name, platform),
				Platform:    platform,
				UserEmail:   email,
				UserName:    name,
				LastCheckIn: checkIn,
			})
		}
	}
	s.addLocked(ds)
	return emails
}
