package opcua

import (
	"context"
	"fmt"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
)

// Entry is one node of the address space found by Browse.
type Entry struct {
	NodeID   *ua.NodeID
	Path     config.BrowsePath // from the Root folder when the walk started at Root or Objects, else from the start node
	Class    ua.NodeClass
	DataType string // variables: the data type's name
	Access   string // variables: "read", "write", "read/write" or "none"
}

// Rooted reports whether paths are from the Root folder (usable as browse_path).
func Rooted(root *ua.NodeID) bool {
	return root.Namespace() == 0 && (root.IntID() == id.RootFolder || root.IntID() == id.ObjectsFolder)
}

// Browse walks the objects and variables below root along hierarchical
// references, depth levels deep, skipping the standard nodes of namespace 0
// (the Server object and its diagnostics). Variables get their data type
// and access level.
func Browse(ctx context.Context, c *opcua.Client, root *ua.NodeID, depth int) ([]Entry, error) {
	lim := readLimits(ctx, c, 0)
	var start config.BrowsePath
	switch {
	case root.Namespace() == 0 && root.IntID() == id.ObjectsFolder:
		start = config.BrowsePath{{Name: "Objects"}}
	case root.Namespace() == 0 && root.IntID() == id.RootFolder:
	default:
		name, err := browseName(ctx, c, root)
		if err != nil {
			return nil, fmt.Errorf("reading the browse name of %s: %w", root, err)
		}
		start = config.BrowsePath{name}
	}
	type item struct {
		id   *ua.NodeID
		path config.BrowsePath
	}
	var out []Entry
	seen := map[string]bool{root.String(): true}
	level := []item{{root, start}}
	for d := 0; d < depth && len(level) > 0; d++ {
		var next []item
		for b := 0; b < len(level); b += lim.read {
			batch := level[b:min(b+lim.read, len(level))]
			req := &ua.BrowseRequest{RequestedMaxReferencesPerNode: 1000}
			for _, it := range batch {
				req.NodesToBrowse = append(req.NodesToBrowse, &ua.BrowseDescription{
					NodeID:          it.id,
					BrowseDirection: ua.BrowseDirectionForward,
					ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
					IncludeSubtypes: true, // gopcua's server loops forever on false
					NodeClassMask:   uint32(ua.NodeClassObject | ua.NodeClassVariable),
					ResultMask:      uint32(ua.BrowseResultMaskAll),
				})
			}
			res, err := c.Browse(ctx, req)
			if err != nil {
				return nil, fmt.Errorf("browsing: %w", err)
			}
			for k, r := range res.Results {
				if k >= len(batch) || r == nil || !good(r.StatusCode) {
					continue
				}
				refs, err := allReferences(ctx, c, r)
				if err != nil {
					return nil, err
				}
				for _, ref := range refs {
					if ref.NodeID == nil || ref.NodeID.NodeID == nil || ref.BrowseName == nil || ref.NodeID.ServerIndex != 0 {
						continue
					}
					nid := ref.NodeID.NodeID
					if nid.Namespace() == 0 || seen[nid.String()] {
						continue
					}
					seen[nid.String()] = true
					p := append(append(config.BrowsePath(nil), batch[k].path...), ref.BrowseName)
					out = append(out, Entry{NodeID: nid, Path: p, Class: ref.NodeClass})
					next = append(next, item{nid, p})
				}
			}
		}
		level = next
	}
	if err := describeVariables(ctx, c, out, lim.read); err != nil {
		return nil, err
	}
	return out, nil
}

// allReferences follows a browse result's continuation points.
func allReferences(ctx context.Context, c *opcua.Client, r *ua.BrowseResult) ([]*ua.ReferenceDescription, error) {
	refs := r.References
	cp := r.ContinuationPoint
	for len(cp) > 0 {
		res, err := c.BrowseNext(ctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
		if err != nil {
			return nil, fmt.Errorf("browsing on: %w", err)
		}
		if len(res.Results) == 0 || res.Results[0] == nil || !good(res.Results[0].StatusCode) {
			break
		}
		refs = append(refs, res.Results[0].References...)
		cp = res.Results[0].ContinuationPoint
	}
	return refs, nil
}

func browseName(ctx context.Context, c *opcua.Client, n *ua.NodeID) (*ua.QualifiedName, error) {
	res, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: n, AttributeID: ua.AttributeIDBrowseName}}})
	if err != nil {
		return nil, err
	}
	if len(res.Results) != 1 || res.Results[0].Value == nil {
		return nil, fmt.Errorf("no browse name")
	}
	if !good(res.Results[0].Status) {
		return nil, res.Results[0].Status
	}
	q, ok := res.Results[0].Value.Value().(*ua.QualifiedName)
	if !ok {
		return nil, fmt.Errorf("browse name of type %T", res.Results[0].Value.Value())
	}
	return q, nil
}

// describeVariables reads the data type and access level of the variables.
func describeVariables(ctx context.Context, c *opcua.Client, es []Entry, perCall int) error {
	var vars []int
	for i, e := range es {
		if e.Class == ua.NodeClassVariable {
			vars = append(vars, i)
		}
	}
	typeNames := map[string]string{}
	perCall = max(perCall/2, 1)
	for b := 0; b < len(vars); b += perCall {
		batch := vars[b:min(b+perCall, len(vars))]
		req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither}
		for _, i := range batch {
			req.NodesToRead = append(req.NodesToRead,
				&ua.ReadValueID{NodeID: es[i].NodeID, AttributeID: ua.AttributeIDDataType},
				&ua.ReadValueID{NodeID: es[i].NodeID, AttributeID: ua.AttributeIDAccessLevel})
		}
		res, err := c.Read(ctx, req)
		if err != nil {
			return fmt.Errorf("reading data types: %w", err)
		}
		for k, i := range batch {
			if 2*k+1 >= len(res.Results) {
				break
			}
			if dt := res.Results[2*k]; dt != nil && good(dt.Status) && dt.Value != nil {
				if n, ok := dt.Value.Value().(*ua.NodeID); ok {
					es[i].DataType = typeName(ctx, c, n, typeNames)
				}
			}
			es[i].Access = "?"
			if al := res.Results[2*k+1]; al != nil && good(al.Status) && al.Value != nil {
				if v, ok := al.Value.Value().(uint8); ok {
					es[i].Access = accessName(v)
				}
			}
		}
	}
	return nil
}

func typeName(ctx context.Context, c *opcua.Client, n *ua.NodeID, cache map[string]string) string {
	if name, ok := cache[n.String()]; ok {
		return name
	}
	name := n.String()
	if n.Namespace() == 0 && n.Type() == ua.NodeIDTypeNumeric {
		if s := id.Name(n.IntID()); s != "" {
			name = s
		}
	} else if q, err := browseName(ctx, c, n); err == nil {
		name = q.Name
	}
	cache[n.String()] = name
	return name
}

func accessName(level uint8) string {
	r, w := level&uint8(ua.AccessLevelTypeCurrentRead) != 0, level&uint8(ua.AccessLevelTypeCurrentWrite) != 0
	switch {
	case r && w:
		return "read/write"
	case r:
		return "read"
	case w:
		return "write"
	}
	return "none"
}
