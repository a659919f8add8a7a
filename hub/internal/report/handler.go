package report

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/auth"
)

// HTTPFormats are the formats the report endpoint serves.
var HTTPFormats = []string{"html", "pdf", "csv"}

// Handler serves GET /api/v1/months/{month}/report?format=html|pdf|csv&lang=
// (the dashboard's download button): the month's full report as one HTML
// page (the default), printed to PDF, or as the CSV export. The language is
// lang= when given, else the browser's Accept-Language (en or zh-CN).
// pdf answers 501 naming what to install when Chromium is missing.
func Handler(src Source, loc *time.Location, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		month := r.PathValue("month")
		q := r.URL.Query()
		format := q.Get("format")
		if format == "" {
			format = "html"
		}
		if !contains(HTTPFormats, format) {
			http.Error(w, "format must be one of "+strings.Join(HTTPFormats, ", "), http.StatusBadRequest)
			return
		}
		lang := Lang(q.Get("lang"), r.Header.Get("Accept-Language"))
		name := "floorpulse-report-" + month
		if format == "csv" {
			m, err := monthOf(src, month)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var b bytes.Buffer
			if err := Write(&b, "csv", m); err != nil {
				log.Warn("writing the csv report", "err", err)
				http.Error(w, "writing the report failed", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
			_, _ = w.Write(b.Bytes())
			return
		}
		d, err := Build(src, month, loc)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var page bytes.Buffer
		if err := HTML(&page, d, lang); err != nil {
			log.Warn("rendering the report", "err", err)
			http.Error(w, "rendering the report failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Language", lang)
		w.Header().Add("Vary", "Accept-Language")
		if format == "html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", auth.PagePolicy(Style))
			_, _ = w.Write(page.Bytes())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 50*time.Second) // within the server's default write timeout (60 s)
		defer cancel()
		pdf, err := PDF(ctx, page.Bytes())
		if errors.Is(err, ErrNoChromium) {
			http.Error(w, err.Error(), http.StatusNotImplemented)
			return
		}
		if err != nil {
			log.Warn("printing the report", "err", err)
			http.Error(w, "printing the report failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+"."+lang+`.pdf"`)
		_, _ = w.Write(pdf)
	})
}

// monthOf is the month's figures and operators (the table, CSV and JSON formats).
func monthOf(src Source, month string) (Month, error) {
	mj, err := src.Month(month)
	if err != nil {
		return Month{}, err
	}
	ops, err := src.Operators(month)
	if err != nil {
		return Month{}, err
	}
	return Month{MonthJSON: mj, Operators: ops}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
