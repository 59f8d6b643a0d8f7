import type { CommandError } from "./bindings/CommandError";
import { type Key, type Language, translate } from "./i18n";
import { type IpcErrorCode, IpcError, toIpcError } from "./ipc";

export interface ErrorText {
  title: string;
  detail: string;
}

/** The title of each kind of failure (every code the shell sends, and the two the UI adds). */
const TITLE_KEYS: Record<IpcErrorCode, Key> = {
  invalid_input: "err.invalidInput",
  invalid_credentials: "err.invalidCredentials",
  session_expired: "err.sessionExpired",
  not_signed_in: "err.notSignedIn",
  network: "err.network",
  server: "err.server",
  storage: "err.storage",
  phone: "err.phone",
  internal: "err.other",
  ipc_unavailable: "err.ipcUnavailable",
  unknown: "err.other",
};

/** Kinds whose detail is fixed text in every language (the shell's sentence adds nothing). */
const FIXED_DETAIL_KEYS: Partial<Record<IpcErrorCode, Key>> = {
  invalid_credentials: "err.invalidCredentials.detail",
  session_expired: "err.sessionExpired.detail",
  not_signed_in: "err.notSignedIn.detail",
  ipc_unavailable: "err.ipcUnavailable.detail",
};

/**
 * What to do, in Hindi, for a failure whose sentence the UI has no Hindi for (the server's own free-text
 * refusals, a library's technical message): shown first, with the sentence after it.
 */
const HINDI_REMEDY: Record<IpcErrorCode, string> = {
  invalid_input: "नीचे लिखी बात ठीक करके फिर कोशिश करें।",
  invalid_credentials: "यूज़रनेम और पासवर्ड जाँचकर फिर कोशिश करें।",
  session_expired: "सिंक जारी रखने के लिए फिर से साइन इन करें।",
  not_signed_in: "साइन इन करें, फिर कोशिश करें।",
  network:
    "सर्वर का पता और इस कंप्यूटर का इंटरनेट कनेक्शन जाँचें, फिर दोबारा कोशिश करें। आपका काम इस कंप्यूटर पर सहेजा रहता है।",
  server: "थोड़ी देर बाद फिर कोशिश करें; बार-बार हो तो यह संदेश अपने सुपरवाइज़र या सहायता टीम को बताएँ।",
  storage: "Leadline बंद करके फिर खोलें; समस्या बनी रहे तो यह संदेश सहायता टीम को बताएँ।",
  phone: "फ़ोन की सेटिंग्स (खाता, पासवर्ड, माइक्रोफ़ोन) जाँचें, फिर दोबारा कोशिश करें।",
  internal: "Leadline बंद करके फिर खोलें और दोबारा कोशिश करें; समस्या बनी रहे तो यह संदेश सहायता टीम को बताएँ।",
  ipc_unavailable: "Leadline को उसके ऐप आइकन से खोलें।",
  unknown: "दोबारा कोशिश करें; समस्या बनी रहे तो Leadline बंद करके फिर खोलें।",
};

/** Kinds whose Hindi detail is the fixed one even when the shell's sentence is known. */
const ALWAYS_FIXED: ReadonlySet<IpcErrorCode> = new Set(["invalid_credentials", "session_expired", "ipc_unavailable"]);

/** The shell's fixed sentences (src-tauri/src), in Hindi. A test checks that none is missing. */
const HINDI_SENTENCES: Readonly<Record<string, string>> = {
  "A call is in progress: the update waits until it ends.":
    "अभी कॉल चल रही है: अपडेट कॉल ख़त्म होने तक रुकेगा।",
  "Changes are waiting for the server: sync them first, or choose to update anyway.":
    "बदलाव सर्वर पर भेजे जाने बाकी हैं: पहले उन्हें सिंक करें, या फिर भी अपडेट करना चुनें।",
  "There is no update to install.": "इंस्टॉल करने के लिए कोई अपडेट नहीं है।",
  "That conflict is already settled (on this computer or by a sync).":
    "यह टकराव पहले ही सुलझ चुका है (इस कंप्यूटर पर या किसी सिंक से); अब कुछ करने की ज़रूरत नहीं।",
  "Pick a time in the future for the call-back.": "कॉल-बैक के लिए आगे का कोई समय चुनें।",
  "Sign in to see your follow-ups.": "अपने फ़ॉलो-अप देखने के लिए साइन इन करें।",
  "That follow-up is done or no longer yours.":
    "यह फ़ॉलो-अप पूरा हो चुका है या अब आपका नहीं है; सूची में बाकी फ़ॉलो-अप देखें।",
  "Sign in to see your day.": "अपना आज का काम देखने के लिए साइन इन करें।",
  "Sign in to play recordings.": "रिकॉर्डिंग सुनने के लिए साइन इन करें।",
  "This call has no recording, or the telephony provider no longer keeps it.":
    "इस कॉल की कोई रिकॉर्डिंग नहीं है, या टेलीफ़ोनी कंपनी अब उसे नहीं रखती।",
  "That lead is no longer on this computer (it may have been reassigned).":
    "यह लीड अब इस कंप्यूटर पर नहीं है (शायद किसी और को सौंप दी गई है); सूची फिर से देखें।",
  "The softphone needs the local cache, which could not be opened.":
    "सॉफ़्टफ़ोन को लोकल डेटाबेस चाहिए, जो खुल नहीं सका; Leadline बंद करके फिर खोलें।",
  "Sign in to call through your mobile: the server places that call.":
    "अपने मोबाइल से कॉल करने के लिए साइन इन करें: वह कॉल सर्वर लगाता है।",
  "That call is over.": "वह कॉल खत्म हो चुकी है।",
  "Your session has ended; sign in again to sync.": "आपका सेशन खत्म हो गया है; सिंक के लिए फिर से साइन इन करें।",
  "Enter the server address, your username and your password.": "सर्वर का पता, अपना यूज़रनेम और पासवर्ड डालें।",
  "Sign in to sync your leads.": "अपनी लीड्स सिंक करने के लिए साइन इन करें।",
  "Leadline could not connect to the server. Your work is saved on this computer and is sent when the connection is back.":
    "Leadline सर्वर से नहीं जुड़ पाया। आपका काम इस कंप्यूटर पर सहेजा हुआ है और कनेक्शन लौटते ही भेज दिया जाएगा; काम जारी रखें।",
  "Leadline could not connect to the server. Check the server address and this computer's internet connection, then try again.":
    "Leadline सर्वर से नहीं जुड़ पाया। सर्वर का पता और इस कंप्यूटर का इंटरनेट कनेक्शन जाँचें, फिर दोबारा कोशिश करें।",
  "The username or password is wrong.": "यूज़रनेम या पासवर्ड गलत है; दोनों जाँचकर फिर कोशिश करें।",
  "The file is larger than 20 MB; split it into smaller files.": "फ़ाइल 20 MB से बड़ी है; इसे छोटी फ़ाइलों में बाँटें।",
  "Sign in to see the team; the team's screens need the server.":
    "टीम देखने के लिए साइन इन करें; टीम की स्क्रीनों को सर्वर चाहिए।",
  "The server refused: your role may not do this (the team's screens are for supervisors and admins, the disposition catalogue for admins).":
    "सर्वर ने मना कर दिया: आपकी भूमिका में यह अनुमति नहीं है (टीम की स्क्रीनें सुपरवाइज़र और एडमिन के लिए हैं, डिस्पोज़िशन सूची सिर्फ़ एडमिन के लिए)। ज़रूरत हो तो अपने एडमिन से कहें।",
  "The range must end after it starts.": "अवधि का अंत उसकी शुरुआत के बाद होना चाहिए; तारीखें ठीक करें।",
  "Select the leads to assign.": "सौंपने के लिए लीड्स चुनें।",
  "Pick two different telecallers.": "दो अलग-अलग टेलीकॉलर चुनें।",
  "The file is empty.": "फ़ाइल ख़ाली है; लीड्स वाली फ़ाइल चुनें।",
  "Give the sheet's id (from its address) and the range, e.g. Leads!A1:L.":
    "शीट की आईडी (उसके पते से) और रेंज लिखें, जैसे Leads!A1:L।",
  "Goals cannot be negative.": "लक्ष्य शून्य से कम नहीं हो सकते; 0 या उससे बड़ी संख्या लिखें।",
  "Say why the leads move; the reason stays in each lead's history.":
    "बताएँ कि लीड्स क्यों सौंपी जा रही हैं; कारण हर लीड के इतिहास में रहेगा।",
  "That call is already logged, or the lead is no longer on this computer.":
    "यह कॉल पहले ही दर्ज हो चुकी है, या लीड अब इस कंप्यूटर पर नहीं है।",
  "The second number cannot be removed here; type the right one over it, or ask your supervisor to remove it.":
    "दूसरा नंबर यहाँ से हटाया नहीं जा सकता; उसकी जगह सही नंबर लिखें, या हटाने के लिए अपने सुपरवाइज़र से कहें।",
  "The second number is the lead's main number.": "दूसरा नंबर लीड का मुख्य नंबर ही है; कोई और नंबर लिखें।",
  "The budget must be between ₹0 and ₹1,000 crore.": "बजट ₹0 से ₹1,000 करोड़ के बीच लिखें।",
};

/** The shell's sentences with a part that varies (a path, a reason), in Hindi; `$1`, `$2` keep the parts. */
const HINDI_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/^“(.*)” is not an email address \(name@example\.com\)\.$/s, "“$1” ईमेल पता नहीं है; name@example.com जैसा पता लिखें।"],
  [
    /^“(.*)” is not a phone number\. Type 10 digits for an Indian mobile, or \+ and the country code for another country \(\+44 20 7946 0958\)\.$/s,
    "“$1” फ़ोन नंबर नहीं है। भारतीय मोबाइल के लिए 10 अंक लिखें, दूसरे देश के लिए + और देश का कोड (+44 20 7946 0958)।",
  ],
  [
    /^The file (.+) could not be written: (.+)$/s,
    "फ़ाइल $1 नहीं लिखी जा सकी ($2)। डिस्क में जगह और फ़ोल्डर की अनुमति जाँचें, फिर दोबारा कोशिश करें।",
  ],
  [
    /^The calendar file could not be saved in (.+): (.+)$/s,
    "कैलेंडर फ़ाइल $1 में नहीं सहेजी जा सकी ($2)। डिस्क में जगह और फ़ोल्डर की अनुमति जाँचें, फिर दोबारा कोशिश करें।",
  ],
  [/^The report could not be saved: (.+)$/s, "रिपोर्ट नहीं सहेजी जा सकी ($1)। डिस्क में जगह जाँचें, फिर दोबारा कोशिश करें।"],
  [
    /^Cannot create the data folder (.+): (.+)$/s,
    "डेटा फ़ोल्डर $1 नहीं बन सका ($2)। फ़ोल्डर की अनुमति और डिस्क में जगह जाँचें, फिर Leadline दोबारा खोलें।",
  ],
  [
    /^The server's answer was not understood \((.+)\); this Leadline may need an update\.$/s,
    "सर्वर का जवाब समझ नहीं आया ($1); Leadline का नया संस्करण इंस्टॉल करें।",
  ],
  [
    /^The softphone cannot call now \((.+)\), and only a lead's number can be called through your mobile instead\.$/s,
    "सॉफ़्टफ़ोन अभी कॉल नहीं कर सकता ($1), और मोबाइल से सिर्फ़ किसी लीड का नंबर लगाया जा सकता है; लीड की सूची से कॉल करें।",
  ],
  [
    /^The system keyring cannot keep the SIP password: (.+)$/s,
    "सिस्टम कीरिंग SIP पासवर्ड नहीं रख पा रही ($1)। कीरिंग खोलें (या कंप्यूटर में फिर से लॉग इन करें), फिर दोबारा कोशिश करें।",
  ],
  [
    /^The file did not reach Leadline's shell as expected(?: \((.+)\))?; reopen Leadline and try again\.$/s,
    "फ़ाइल Leadline तक ठीक से नहीं पहुँची; Leadline बंद करके फिर खोलें और दोबारा कोशिश करें।",
  ],
];

const DEVANAGARI = /[\u0900-\u097F]/;

/** The Hindi for one of the shell's sentences, when the UI knows it. */
export function hindiSentence(message: string): string | undefined {
  const m = message.trim();
  const known = HINDI_SENTENCES[m];
  if (known !== undefined) return known;
  for (const [pattern, hindi] of HINDI_PATTERNS) {
    if (pattern.test(m)) return m.replace(pattern, hindi);
  }
  return undefined;
}

function hindiDetail(e: IpcError): string {
  const fixed = FIXED_DETAIL_KEYS[e.code];
  if (fixed !== undefined && ALWAYS_FIXED.has(e.code)) return translate("hi", fixed);
  const message = e.message.trim();
  // Text the UI made itself, already in Hindi.
  if (DEVANAGARI.test(message)) return message;
  const known = hindiSentence(message);
  if (known !== undefined) return known;
  if (fixed !== undefined) return translate("hi", fixed);
  const remedy = HINDI_REMEDY[e.code] ?? HINDI_REMEDY.unknown;
  // The network's sentences say nothing the Hindi does not; others (a server's refusal, a technical
  // message) are kept as they came, after what to do, for whoever helps.
  return e.code === "network" || message === "" ? remedy : `${remedy} संदेश: ${message}`;
}

/**
 * What to tell people about a failure, in `lang` (English when not given): a short title by kind, and the
 * shell's own sentence (which the shell writes in English) or a fixed one where the kind says it all. In
 * Hindi, the shell's sentences the UI knows are said in Hindi; any other (a server's free-text refusal)
 * comes after a Hindi sentence saying what to do.
 */
export function describeError(err: unknown, lang: Language = "en"): ErrorText {
  const e = err instanceof IpcError ? err : toIpcError(err);
  // A code from a newer shell than this UI reads as "unknown".
  const title = translate(lang, TITLE_KEYS[e.code] ?? TITLE_KEYS.unknown);
  if (lang === "hi") return { title, detail: hindiDetail(e) };
  const fixed = FIXED_DETAIL_KEYS[e.code];
  return { title, detail: fixed === undefined ? e.message : translate(lang, fixed) };
}

/** The same, for an error the shell reported inside an AppStatus. */
export function describeCommandError(err: CommandError, lang: Language = "en"): ErrorText {
  return describeError(new IpcError(err.code, err.message), lang);
}
