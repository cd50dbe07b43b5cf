// PLACEHOLDER until `featgen build` writes this file. Same public API as the generator's output.
//! Features of this repository's registry.
#![allow(missing_docs)]

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier { S, A, B, C, D, E }
impl Tier {
    pub const ALL: &'static [Tier] = &[Tier::S, Tier::A, Tier::B, Tier::C, Tier::D, Tier::E];
    pub const fn name(self) -> &'static str { match self { Tier::S => "S", Tier::A => "A", Tier::B => "B", Tier::C => "C", Tier::D => "D", Tier::E => "E" } }
    pub const fn rank(self) -> u32 { self as u32 }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Team { MsgsTeam, IdentityTeam }
impl Team {
    pub const ALL: &'static [Team] = &[Team::MsgsTeam, Team::IdentityTeam];
    pub const fn name(self) -> &'static str { match self { Team::MsgsTeam => "msgs-team", Team::IdentityTeam => "identity-team" } }
    pub const fn id(self) -> u32 { match self { Team::MsgsTeam => 1, Team::IdentityTeam => 2 } }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureGroup { Chat, Identity }
impl FeatureGroup {
    pub const ALL: &'static [FeatureGroup] = &[FeatureGroup::Chat, FeatureGroup::Identity];
    pub const fn name(self) -> &'static str { match self { FeatureGroup::Chat => "chat", FeatureGroup::Identity => "identity" } }
    pub const fn id(self) -> u32 { match self { FeatureGroup::Chat => 1, FeatureGroup::Identity => 2 } }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature { Messaging, TextInVoice, TypingIndicator, Profiles }
impl Feature {
    pub const ALL: &'static [Feature] = &[Feature::Messaging, Feature::TextInVoice, Feature::TypingIndicator, Feature::Profiles];
    pub const fn name(self) -> &'static str { match self { Feature::Messaging => "messaging", Feature::TextInVoice => "text-in-voice", Feature::TypingIndicator => "typing-indicator", Feature::Profiles => "profiles" } }
    pub const fn id(self) -> u32 { match self { Feature::Messaging => 1, Feature::TextInVoice => 2, Feature::TypingIndicator => 3, Feature::Profiles => 4 } }
    pub const fn team(self) -> Team { match self { Feature::Profiles => Team::IdentityTeam, _ => Team::MsgsTeam } }
    pub const fn tier(self) -> Tier { match self { Feature::Messaging => Tier::S, Feature::TextInVoice => Tier::B, Feature::TypingIndicator => Tier::E, Feature::Profiles => Tier::B } }
    pub const fn group(self) -> FeatureGroup { match self { Feature::Profiles => FeatureGroup::Identity, _ => FeatureGroup::Chat } }
    pub const fn is_deprecated(self) -> bool { false }
}
