// UI strings in English and Hindi. `t(key, vars)` fills `{name}` placeholders. The Hindi table is typed by
// the English one, so a missing translation does not compile. Screens not yet translated stay English.
import { createContext, useContext } from "react";

import type { Language } from "./bindings/Language";

export type { Language };

const en = {
  "tab.today": "Today",
  "tab.leads": "Leads",
  "tab.followUps": "Follow-ups",
  "tabs.label": "Screens",
  "status.online": "Online",
  "status.offline": "Offline",
  "status.syncing": "Syncing…",
  "status.tryingServer": "Trying to reach the server…",
  "status.syncingBackground": "Syncing in the background…",
  "status.synced": "Synced {when}",
  "status.notSynced": "Not synced yet",
  "status.leads": "leads",
  "status.toSend": "to send",
  "status.toSendTitle": "Saved on this computer, waiting for the server",
  "status.callsToLog": "{n} calls to log",
  "status.callToLog": "1 call to log",
  "action.syncNow": "Sync now",
  "action.preferences": "Preferences",
  "action.signOut": "Sign out",
  "action.shortcuts": "Keyboard shortcuts",
  "action.call": "Call",
  "action.callName": "Call {name}",
  "action.tryAgain": "Try again",
  "home.callsToday": "Calls today",
  "home.connected": "Connected",
  "home.connectedShare": "{pct}% of calls",
  "home.noCallsYet": "No calls yet",
  "home.talkTime": "Talk time",
  "home.conversions": "Conversions",
  "home.followUpsDone": "Follow-ups done",
  "home.followUpsNote": "{overdue} overdue · {today} due today",
  "home.noGoal": "Your supervisor has not set a daily goal; the figures count your day so far.",
  "home.goalProgress": "{label}: {pct}% of the goal",
  "home.nextToCall": "Next to call",
  "home.callNext": "Call next",
  "home.queueEmpty":
    "Nobody is waiting: no follow-ups due and no new or hot leads. New leads appear here as your supervisor assigns them.",
  "home.callsByHour": "Calls by hour",
  "home.outcomes": "Outcomes today",
  "home.noOutcomes": "No calls logged today yet.",
  "why.overdue": "Follow-up due {when}",
  "why.overdueNoTime": "Follow-up overdue",
  "why.today": "Follow-up at {time}",
  "why.todayNoTime": "Follow-up today",
  "why.hot": "Hot lead",
  "why.high": "High priority",
  "why.new": "New lead",
  "fu.overdue": "Overdue",
  "fu.today": "Later today",
  "fu.upcoming": "Upcoming",
  "fu.due": "Due {when}",
  "fu.done": "Done",
  "fu.move": "Move",
  "fu.calendar": "Calendar",
  "fu.empty":
    "No follow-ups waiting. When a call ends with a promise to call back, the call log form schedules one here.",
} as const;

export type Key = keyof typeof en;

const hi: Record<Key, string> = {
  "tab.today": "आज",
  "tab.leads": "लीड्स",
  "tab.followUps": "फ़ॉलो-अप",
  "tabs.label": "स्क्रीन",
  "status.online": "ऑनलाइन",
  "status.offline": "ऑफ़लाइन",
  "status.syncing": "सिंक हो रहा है…",
  "status.tryingServer": "सर्वर से जुड़ने की कोशिश…",
  "status.syncingBackground": "पीछे सिंक हो रहा है…",
  "status.synced": "सिंक हुआ {when}",
  "status.notSynced": "अभी सिंक नहीं हुआ",
  "status.leads": "लीड्स",
  "status.toSend": "भेजना बाकी",
  "status.toSendTitle": "इस कंप्यूटर पर सहेजा गया, सर्वर का इंतज़ार",
  "status.callsToLog": "{n} कॉल दर्ज करनी हैं",
  "status.callToLog": "1 कॉल दर्ज करनी है",
  "action.syncNow": "अभी सिंक करें",
  "action.preferences": "सेटिंग्स",
  "action.signOut": "साइन आउट",
  "action.shortcuts": "कीबोर्ड शॉर्टकट",
  "action.call": "कॉल करें",
  "action.callName": "{name} को कॉल करें",
  "action.tryAgain": "फिर कोशिश करें",
  "home.callsToday": "आज की कॉल",
  "home.connected": "जुड़ी कॉल",
  "home.connectedShare": "कॉल का {pct}%",
  "home.noCallsYet": "अभी कोई कॉल नहीं",
  "home.talkTime": "बातचीत का समय",
  "home.conversions": "बिक्री",
  "home.followUpsDone": "पूरे फ़ॉलो-अप",
  "home.followUpsNote": "{overdue} बाकी · {today} आज",
  "home.noGoal": "आपके सुपरवाइज़र ने दैनिक लक्ष्य तय नहीं किया है; आंकड़े आज अब तक के हैं।",
  "home.goalProgress": "{label}: लक्ष्य का {pct}%",
  "home.nextToCall": "अगली कॉल",
  "home.callNext": "अगली कॉल करें",
  "home.queueEmpty":
    "अभी कोई इंतज़ार में नहीं: न कोई फ़ॉलो-अप बाकी है, न कोई नई या हॉट लीड। सुपरवाइज़र के लीड देते ही वे यहाँ दिखेंगी।",
  "home.callsByHour": "घंटे के हिसाब से कॉल",
  "home.outcomes": "आज के नतीजे",
  "home.noOutcomes": "आज अभी कोई कॉल दर्ज नहीं हुई।",
  "why.overdue": "फ़ॉलो-अप बाकी: {when}",
  "why.overdueNoTime": "फ़ॉलो-अप बाकी",
  "why.today": "फ़ॉलो-अप {time} पर",
  "why.todayNoTime": "फ़ॉलो-अप आज",
  "why.hot": "हॉट लीड",
  "why.high": "ऊँची प्राथमिकता",
  "why.new": "नई लीड",
  "fu.overdue": "बाकी",
  "fu.today": "आज बाद में",
  "fu.upcoming": "आने वाले",
  "fu.due": "बाकी: {when}",
  "fu.done": "पूरा",
  "fu.move": "आगे करें",
  "fu.calendar": "कैलेंडर",
  "fu.empty": "कोई फ़ॉलो-अप बाकी नहीं। जब कॉल के अंत में दोबारा कॉल का वादा हो, तो कॉल फ़ॉर्म यहाँ फ़ॉलो-अप जोड़ता है।",
};

const TABLES: Record<Language, Record<Key, string>> = { en, hi };

/** The string for `key` in `lang`, with `{name}` placeholders filled from `vars`. */
export function translate(lang: Language, key: Key, vars: Record<string, string | number> = {}): string {
  return TABLES[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

export const LanguageContext = createContext<Language>("en");

/** `t(key, vars)` in the app's language. */
export function useT(): (key: Key, vars?: Record<string, string | number>) => string {
  const lang = useContext(LanguageContext);
  return (key, vars) => translate(lang, key, vars);
}
