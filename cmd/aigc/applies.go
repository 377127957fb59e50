package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/aigc-go/aigc/models"
)

// appliesKey annotates a flag with the kinds of data (models.DataKind) whose models it
// applies to; a flag without it applies to every model.
const appliesKey = "aigc-applies-to"

// onlyFor marks flags of cmd as applying to models of the given kinds of data.
func onlyFor(cmd *cobra.Command, kinds []models.DataKind, flags ...string) {
	var ks []string
	for _, k := range kinds {
		ks = append(ks, string(k))
	}
	for _, name := range flags {
		if err := cmd.Flags().SetAnnotation(name, appliesKey, ks); err != nil {
			panic(err) // a flag name the command does not have: a programming error
		}
	}
}

// checkFlagsApply refuses, as a usage error, a flag given on the command line that does
// nothing for this model (sample lstm --beam 4), rather than ignoring it silently.
func checkFlagsApply(cmd *cobra.Command, model string) error {
	fam, err := models.Lookup(model)
	if err != nil {
		return nil // the command reports the unknown model
	}
	var bad error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		kinds, ok := f.Annotations[appliesKey]
		if !ok || slices.Contains(kinds, string(fam.Data)) || bad != nil {
			return
		}
		bad = usageError{fmt.Errorf("--%s does not apply to %s: it is for the models of %s (%s)",
			f.Name, model, strings.Join(kinds, " or "), strings.Join(modelsOf(kinds), ", "))}
	})
	return bad
}

// modelsOf names the models that read the given kinds of data.
func modelsOf(kinds []string) []string {
	var names []string
	for _, n := range models.Names() {
		if f, _ := models.Lookup(n); slices.Contains(kinds, string(f.Data)) {
			names = append(names, n)
		}
	}
	return names
}
