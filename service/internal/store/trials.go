package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// trialRow remembers that a tenant had its trial, under a pseudonym (a
// blind index of the tenant id, keyed by the server secret) so that it
// survives the tenant's erasure and holds nothing that names the tenant.
// Migration 6 creates it; it never changes shape (a change is a new step).
type trialRow struct {
	TrialKey  string    `gorm:"primaryKey;size:64"`
	StartedAt time.Time // the trial's first day
	EndsAt    time.Time // its last
}

func (trialRow) TableName() string { return "trial_tombstones" }

// Trial is a tenant's past trial.
type Trial struct {
	StartedAt, EndsAt time.Time
}

func (s *Store) trialKey(tid string) string { return s.secrets.BlindIndex("trial", tid) }

// RecordTrial notes that tenant tid started a trial running from start
// to end. A tenant's first trial is kept; a second call changes nothing.
func (s *Store) RecordTrial(ctx context.Context, tid string, start, end time.Time) error {
	row := trialRow{TrialKey: s.trialKey(tid), StartedAt: start.UTC(), EndsAt: end.UTC()}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cur trialRow
		err := tx.Where("trial_key = ?", row.TrialKey).Take(&cur).Error
		if err == nil {
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return fmt.Errorf("record the trial of tenant %s: %w", tid, err)
	}
	return nil
}

// PastTrial returns the trial tenant tid had, even if the tenant was
// erased since, or ErrNotFound.
func (s *Store) PastTrial(ctx context.Context, tid string) (Trial, error) {
	var row trialRow
	err := s.db.WithContext(ctx).Where("trial_key = ?", s.trialKey(tid)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Trial{}, fmt.Errorf("trial of tenant %s: %w", tid, ErrNotFound)
	}
	if err != nil {
		return Trial{}, fmt.Errorf("trial of tenant %s: %w", tid, err)
	}
	return Trial{StartedAt: row.StartedAt, EndsAt: row.EndsAt}, nil
}
