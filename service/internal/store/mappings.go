package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Mapping is a drive mapping with its assignment.
type Mapping = apitype.AdminMapping

// ValidateMapping checks a mapping an admin submitted. Errors wrap
// ErrInvalid and say what to fix.
func ValidateMapping(m *Mapping) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrInvalid)
	}
	m.DisplayName = strings.TrimSpace(m.DisplayName)
	if m.DisplayName == "" || utf8.RuneCountInString(m.DisplayName) > 128 {
		return bad("display name must have 1 to 128 characters")
	}
	m.DriveLetter = strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(m.DriveLetter), ":"))
	if m.DriveLetter != "" && (len(m.DriveLetter) != 1 || m.DriveLetter[0] < 'D' || m.DriveLetter[0] > 'Z') {
		return bad("drive letter must be one letter from D to Z")
	}
	m.MountName = strings.TrimSpace(m.MountName)
	if m.MountName != "" && (strings.ContainsAny(m.MountName, `/\:*?"<>|`) || m.MountName == "." || m.MountName == ".." || len(m.MountName) > 64) {
		return bad("mount name must be a plain folder name of at most 64 characters")
	}
	if m.Target.Kind == apitype.TargetCombined {
		if err := validateCombined(&m.Target); err != nil {
			return bad("%s", err)
		}
	} else if err := validateTarget(&m.Target); err != nil {
		return bad("%s", err)
	}
	switch m.OfflinePin {
	case "":
		m.OfflinePin = apitype.PinAllowed
	case apitype.PinNone, apitype.PinAllowed, apitype.PinAll:
	default:
		return bad("offline pin must be none, allowed or all")
	}
	if m.CacheLimitBytes < 0 {
		return bad("cache limit must not be negative")
	}
	for i, g := range m.Groups {
		if !isGUID(g) {
			return bad("group %q is not a group id (GUID)", g)
		}
		m.Groups[i] = strings.ToLower(g)
	}
	slices.Sort(m.Groups)
	m.Groups = slices.Compact(m.Groups)
	return nil
}

// validateTarget checks and normalises the target of one library.
func validateTarget(t *apitype.Target) error {
	folder, ok := apitype.CleanFolderPath(t.FolderPath)
	if !ok || len(folder) > 400 {
		return errors.New("folder path must be the folder's path inside the library, such as /Reports/2026, of at most 400 characters")
	}
	switch t.Kind {
	case apitype.TargetOneDrive:
		*t = apitype.Target{Kind: t.Kind}
	case apitype.TargetSharePoint:
		u, err := url.Parse(t.SiteURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" {
			return errors.New("site URL must be an https URL such as https://contoso.sharepoint.com/sites/Finance")
		}
		t.SiteURL = strings.TrimSuffix(t.SiteURL, "/")
		if strings.TrimSpace(t.LibraryName) == "" {
			return errors.New("a SharePoint target needs a library name")
		}
	case apitype.TargetDriveID:
		if strings.TrimSpace(t.DriveID) == "" || len(t.DriveID) > 256 {
			return errors.New("a drive target needs a drive id")
		}
	case apitype.TargetTeam:
		if !isGUID(t.GroupID) {
			return errors.New("a Team target needs the Team's group id (a GUID)")
		}
	default:
		return errors.New("target kind must be onedrive, sharepoint, driveId, team or combined")
	}
	t.FolderPath, t.Members = folder, nil
	return nil
}

// validateCombined checks a combined drive's target: 1 to
// apitype.MaxCombinedMembers libraries, each a valid target of one
// library under a name that is a valid folder name, unique regardless of
// case (Windows and macOS fold case).
func validateCombined(t *apitype.Target) error {
	if len(t.Members) == 0 || len(t.Members) > apitype.MaxCombinedMembers {
		return fmt.Errorf("a combined drive needs 1 to %d libraries", apitype.MaxCombinedMembers)
	}
	members := t.Members
	*t = apitype.Target{Kind: apitype.TargetCombined, Members: make([]apitype.CombinedMember, len(members))}
	for i, mb := range members {
		mb.Name = strings.TrimSpace(mb.Name)
		if !apitype.ValidMemberName(mb.Name) {
			return fmt.Errorf("library %d: its folder name %q must be a plain folder name of at most 128 characters", i+1, mb.Name)
		}
		for _, o := range t.Members[:i] {
			if strings.EqualFold(o.Name, mb.Name) {
				return fmt.Errorf("library %d: the folder name %q is used twice", i+1, mb.Name)
			}
		}
		if mb.Target.Kind == apitype.TargetCombined {
			return fmt.Errorf("library %d: a combined drive cannot hold another", i+1)
		}
		mb.Target.Members = nil
		if err := validateTarget(&mb.Target); err != nil {
			return fmt.Errorf("library %d (%s): %w", i+1, mb.Name, err)
		}
		t.Members[i] = mb
	}
	return nil
}

// membersJSON is how a combined drive's libraries are stored (sealed):
// "" for other kinds.
func membersJSON(ms []apitype.CombinedMember) string {
	if len(ms) == 0 {
		return ""
	}
	b, _ := json.Marshal(ms) // plain strings only
	return string(b)
}

// members decodes membersJSON; a value that does not decode is an error
// of the opener, as a cell that does not open is.
func (o *opener) members(s string) []apitype.CombinedMember {
	if s == "" || o.err != nil {
		return nil
	}
	var ms []apitype.CombinedMember
	if err := json.Unmarshal([]byte(s), &ms); err != nil {
		o.err = fmt.Errorf("mappings.members: %w", err)
	}
	return ms
}

// Mappings returns a tenant's mappings in order.
func (s *Store) Mappings(ctx context.Context, tid string) ([]Mapping, error) {
	return s.mappings(ctx, s.db.WithContext(ctx), tid, "")
}

// Mapping returns one mapping of a tenant; a mapping of another tenant is
// ErrNotFound.
func (s *Store) Mapping(ctx context.Context, tid, id string) (Mapping, error) {
	ms, err := s.mappings(ctx, s.db.WithContext(ctx), tid, id)
	if err != nil {
		return Mapping{}, err
	}
	if len(ms) == 0 {
		return Mapping{}, fmt.Errorf("mapping %s: %w", id, ErrNotFound)
	}
	return ms[0], nil
}

func (s *Store) mappings(ctx context.Context, db *gorm.DB, tid, id string) ([]Mapping, error) {
	q := db.Where("tenant_id = ?", tid)
	if id != "" {
		q = q.Where("id = ?", id)
	}
	var rows []mappingRow
	if err := q.Order("position").Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list mappings of %s: %w", tid, err)
	}
	aq := db.Where("tenant_id = ?", tid)
	if id != "" {
		aq = aq.Where("mapping_id = ?", id)
	}
	var asg []assignmentRow
	if err := aq.Find(&asg).Error; err != nil {
		return nil, fmt.Errorf("list assignments of %s: %w", tid, err)
	}
	o := s.opener(ctx, db, tid)
	groups := map[string][]string{}
	for _, a := range asg {
		groups[a.MappingID] = append(groups[a.MappingID], o.open("mapping_assignments", "group_id", a.ID, a.GroupEnc))
	}
	out := make([]Mapping, 0, len(rows))
	for _, r := range rows {
		open := func(col string, ct []byte) string { return o.open("mappings", col, r.ID, ct) }
		m := Mapping{Mapping: apitype.Mapping{
			ID: r.ID, DisplayName: open("display_name", r.DisplayNameEnc), DriveLetter: r.DriveLetter,
			MountName: open("mount_name", r.MountNameEnc),
			Target: apitype.Target{Kind: apitype.TargetKind(r.Kind), SiteURL: open("site_url", r.SiteURLEnc),
				LibraryName: open("library_name", r.LibraryEnc), DriveID: open("drive_id", r.DriveIDEnc), GroupID: open("group_id", r.GroupIDEnc),
				FolderPath: openOptional(open, "folder_path", r.FolderPathEnc), Members: o.members(openOptional(open, "members", r.MembersEnc))},
			ReadOnly: r.ReadOnly, OfflinePin: apitype.OfflinePin(r.OfflinePin), CacheLimitBytes: r.CacheLimit, Position: r.Position,
			ExclusiveEditing: r.ExclusiveEditing,
		}, Everyone: r.Everyone, Groups: groups[r.ID]}
		slices.Sort(m.Groups)
		out = append(out, m)
	}
	if o.err != nil {
		return nil, fmt.Errorf("decrypt mappings of %s: %w", tid, o.err)
	}
	return out, nil
}

// openOptional opens a column added after rows existed (NULL in rows
// written before its migration): such a row holds no value, "".
func openOptional(open func(col string, ct []byte) string, col string, ct []byte) string {
	if len(ct) == 0 {
		return ""
	}
	return open(col, ct)
}

// CreateMapping adds a mapping at the end of the tenant's list.
func (s *Store) CreateMapping(ctx context.Context, tid string, m Mapping) (Mapping, error) {
	if err := ValidateMapping(&m); err != nil {
		return Mapping{}, err
	}
	m.ID = newID()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.checkUnique(ctx, tx, tid, &m); err != nil {
			return err
		}
		var maxPos *int
		if err := tx.Model(&mappingRow{}).Where("tenant_id = ?", tid).Select("MAX(position)").Scan(&maxPos).Error; err != nil {
			return err
		}
		m.Position = 0
		if maxPos != nil {
			m.Position = *maxPos + 1
		}
		return s.writeMapping(ctx, tx, tid, &m, true)
	})
	s.cfg.evict(tid)
	if err != nil {
		return Mapping{}, fmt.Errorf("create mapping: %w", err)
	}
	return m, nil
}

// UpdateMapping replaces a mapping's fields and assignment, keeping its
// position.
func (s *Store) UpdateMapping(ctx context.Context, tid string, m Mapping) (Mapping, error) {
	if err := ValidateMapping(&m); err != nil {
		return Mapping{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur mappingRow
		if err := tx.Where("tenant_id = ? AND id = ?", tid, m.ID).Take(&cur).Error; err != nil {
			return notFound(err, "mapping "+m.ID)
		}
		if err := s.checkUnique(ctx, tx, tid, &m); err != nil {
			return err
		}
		m.Position = cur.Position
		return s.writeMapping(ctx, tx, tid, &m, false)
	})
	s.cfg.evict(tid)
	if err != nil {
		return Mapping{}, fmt.Errorf("update mapping %s: %w", m.ID, err)
	}
	return m, nil
}

// checkUnique refuses a drive letter or mount name another mapping of the
// tenant already uses.
func (s *Store) checkUnique(ctx context.Context, tx *gorm.DB, tid string, m *Mapping) error {
	others, err := s.mappings(ctx, tx, tid, "")
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID == m.ID {
			continue
		}
		if m.DriveLetter != "" && o.DriveLetter == m.DriveLetter {
			return fmt.Errorf("drive letter %s is used by %q: %w", m.DriveLetter, o.DisplayName, ErrConflict)
		}
		if m.MountName != "" && strings.EqualFold(o.MountName, m.MountName) {
			return fmt.Errorf("mount name %q is used by %q: %w", m.MountName, o.DisplayName, ErrConflict)
		}
	}
	return nil
}

func (s *Store) writeMapping(ctx context.Context, tx *gorm.DB, tid string, m *Mapping, create bool) error {
	z := s.sealer(ctx, tx, tid, "mappings", m.ID)
	row := mappingRow{
		ID: m.ID, TenantID: tid, Position: m.Position, Everyone: m.Everyone,
		DisplayNameEnc: z.seal("display_name", m.DisplayName), MountNameEnc: z.seal("mount_name", m.MountName),
		SiteURLEnc: z.seal("site_url", m.Target.SiteURL), LibraryEnc: z.seal("library_name", m.Target.LibraryName),
		DriveIDEnc: z.seal("drive_id", m.Target.DriveID), GroupIDEnc: z.seal("group_id", m.Target.GroupID),
		FolderPathEnc: z.seal("folder_path", m.Target.FolderPath), MembersEnc: z.seal("members", membersJSON(m.Target.Members)),
		DriveLetter: m.DriveLetter, Kind: string(m.Target.Kind), ReadOnly: m.ReadOnly, OfflinePin: string(m.OfflinePin),
		CacheLimit: m.CacheLimitBytes, ExclusiveEditing: m.ExclusiveEditing, UpdatedAt: s.now().UTC(),
	}
	if z.err != nil {
		return z.err
	}
	row.KeyVersion = z.key.Version()
	if create {
		row.CreatedAt = row.UpdatedAt
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
	} else if err := tx.Model(&mappingRow{}).Where("tenant_id = ? AND id = ?", tid, m.ID).Select("*").Omit("created_at").Updates(&row).Error; err != nil {
		return err
	}
	if err := tx.Where("tenant_id = ? AND mapping_id = ?", tid, m.ID).Delete(&assignmentRow{}).Error; err != nil {
		return err
	}
	for _, g := range m.Groups {
		id := newID()
		az := s.sealer(ctx, tx, tid, "mapping_assignments", id)
		a := assignmentRow{ID: id, MappingID: m.ID, TenantID: tid, GroupIndex: s.secrets.TenantBlindIndex("group", tid, g), GroupEnc: az.seal("group_id", g)}
		if az.err != nil {
			return az.err
		}
		a.KeyVersion = az.key.Version()
		if err := tx.Create(&a).Error; err != nil {
			return err
		}
	}
	return nil
}

// DeleteMapping removes a mapping of the tenant.
func (s *Store) DeleteMapping(ctx context.Context, tid, id string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("tenant_id = ? AND id = ?", tid, id).Delete(&mappingRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("tenant_id = ? AND mapping_id = ?", tid, id).Delete(&assignmentRow{}).Error
	})
	s.cfg.evict(tid)
	if err != nil {
		return fmt.Errorf("delete mapping %s: %w", id, err)
	}
	return nil
}

// ReorderMappings sets the order of the tenant's mappings; ids must name
// each of them exactly once.
func (s *Store) ReorderMappings(ctx context.Context, tid string, ids []string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var have []string
		if err := tx.Model(&mappingRow{}).Where("tenant_id = ?", tid).Pluck("id", &have).Error; err != nil {
			return err
		}
		want := slices.Clone(ids)
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			return fmt.Errorf("the order must list each of the tenant's %d mappings once: %w", len(have), ErrInvalid)
		}
		for pos, id := range ids {
			if err := tx.Model(&mappingRow{}).Where("tenant_id = ? AND id = ?", tid, id).Update("position", pos).Error; err != nil {
				return err
			}
		}
		return nil
	})
	s.cfg.evict(tid)
	if err != nil {
		return fmt.Errorf("reorder mappings of %s: %w", tid, err)
	}
	return nil
}

var _ = errors.Is
