//! The travel nouns that planning and the providers share: a city, a place (attraction,
//! restaurant or hotel), a road between two places, a day's weather, money and clock times.
//! Plain data and arithmetic, no I/O: `travel/` plans with them and `providers/` fetch them,
//! so both import this module and it imports neither.

pub mod city;
pub mod clock;
pub mod money;
pub mod place;
pub mod road;
pub mod weather;

pub use city::{City, MonthNormal};
pub use place::{Place, PlaceKind};
pub use road::Road;
pub use weather::DayWeather;
