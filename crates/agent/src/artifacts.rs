//! Selecting artifact files and packaging them as zip archives.
