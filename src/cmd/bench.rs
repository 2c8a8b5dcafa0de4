//! `socklab bench`: options in, the library called, its results shown.
