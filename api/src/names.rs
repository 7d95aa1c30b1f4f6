//! Enums that travel as names (in JSON, URLs and database columns): each variant's name is
//! written once, and `as_str`, parsing, `Display` and the database decoding all follow from it.

/// A name that is not one of an enum's (a bad database row, or bad input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was expected ("job status").
    pub what: &'static str,
    pub value: String,
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not a {} we know", self.value, self.what)
    }
}

impl std::error::Error for UnknownName {}

/// An enum known by names (every `named_enum!`): its names, in the order declared.
pub trait Named: std::str::FromStr + Copy {
    fn names() -> &'static [&'static str];
}

/// Declares an enum whose variants are known by name:
/// `named_enum! { /// docs \n pub enum JobKind("job kind") { Backup = "backup", ... } }`
/// gives the enum (serde uses the same names, and so does its OpenAPI schema, written here
/// rather than derived: a derive does not read a name passed through a macro), `ALL` in declaration
/// order, `as_str`, `parse` (an `Option`), `FromStr` and `TryFrom<String>` (an [`UnknownName`];
/// what the server's row types decode columns with), and `Display`. Exported for the server's
/// own names (which need serde in the crate that uses it).
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident($what:literal) {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The name stored in the database and used in URLs and JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            pub fn parse(value: &str) -> Option<$name> {
                match value {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl $crate::names::Named for $name {
            fn names() -> &'static [&'static str] {
                &[$($text),+]
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $name::parse(value).ok_or_else(|| $crate::names::UnknownName { what: $what, value: value.to_owned() })
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::names::UnknownName;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::__named_enum_schema!($name, $what, [$($text),+]);
    };
}

/// The OpenAPI schema of a `named_enum!`: a string, one of its names. Nothing without the
/// `openapi` feature.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __named_enum_schema {
    ($name:ident, $what:literal, [$($text:literal),+]) => {
        impl $crate::__utoipa::PartialSchema for $name {
            fn schema() -> $crate::__utoipa::openapi::RefOr<$crate::__utoipa::openapi::schema::Schema> {
                $crate::__utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type($crate::__utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description(Some(concat!("Which ", $what, ", by name.")))
                    .into()
            }
        }
        impl $crate::__utoipa::ToSchema for $name {}
    };
}

#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __named_enum_schema {
    ($name:ident, $what:literal, [$($text:literal),+]) => {};
}

#[cfg(test)]
mod tests {
    crate::named_enum! {
        /// A test enum.
        pub enum Colour("colour") {
            Red = "red",
            /// The sea.
            DeepBlue = "deep_blue",
        }
    }

    #[test]
    fn names_round_trip_through_every_form() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DeepBlue]);
        assert_eq!(<Colour as crate::names::Named>::names(), ["red", "deep_blue"]);
        for colour in Colour::ALL {
            assert_eq!(colour.as_str().parse::<Colour>(), Ok(colour));
            assert_eq!(Colour::try_from(colour.to_string()), Ok(colour));
            assert_eq!(serde_json::to_string(&colour).unwrap(), format!("\"{}\"", colour.as_str()));
        }
        let error = "green".parse::<Colour>().unwrap_err();
        assert_eq!(error.to_string(), "\"green\" is not a colour we know");
        assert!(serde_json::from_str::<Colour>("\"Red\"").is_err());
    }
}
