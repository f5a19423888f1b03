// Package archive builds and opens sluice code packages, which are ZIP files.
//
// FromDir and FromFile build packages deterministically (fixed timestamps, sorted entries), so the
// same code always has the same sha256 and is stored once. Executable bits are kept; symlinks are
// kept only when they point inside the folder.
//
// Check and Extract refuse, with errors.Is-checkable sentinels that all wrap ErrBadArchive:
// input that is not a ZIP (ErrNotZip); entries that would land outside the destination — "../",
// absolute paths, drive letters, backslashes (ErrUnsafePath); symlinks that resolve outside the
// package, alone or through other symlinks (ErrSymlink); more unpacked bytes or entries than
// Limits allow, counted on the real decompressed bytes and not only the sizes the archive declares
// (ErrTooLarge, ErrTooManyFiles); and duplicate or conflicting entries (ErrDuplicate).
//
// Extract writes into a temporary directory beside the destination and renames it into place
// once every entry is written, so a bad archive leaves nothing behind.
package archive
